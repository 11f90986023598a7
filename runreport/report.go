package runreport

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/table"
)

// Run is an analysed run directory.
type Run struct {
	// CompareRun holds the directory, the model and benchmark
	// (analysis.RunIdentity) and the refusal-scoring result.
	analysis.CompareRun
	Data *analysis.RunData
}

// NewRun describes the run d analysed as res.
func NewRun(d *analysis.RunData, res *analysis.Result) Run {
	return Run{CompareRun: analysis.NewCompareRun(d, res), Data: d}
}

// ReportOptions configure Report and Assemble.
type ReportOptions struct {
	// Analysis configures the analysis of every run (split, level …);
	// Analysis.Baselines nil replays the baselines of Baselines.
	Analysis  analysis.Options
	Baselines Baselines
	// Title of the report; "" derives one from the runs.
	Title string
	// MaxExamples caps the misclassified examples per run
	// (report.Report.MaxExamples' rule: 0 means
	// report.DefaultMaxExamples, negative none).
	MaxExamples int
	// Generator is printed in the report's footer ("deepconf v0.3.0").
	Generator string
	// Log receives a progress line per run analysed (nil: none).
	Log io.Writer
}

// Report analyses every directory and assembles the report of the runs:
// one section per run and, for several runs, the comparisons. It returns
// the runs too, in the order of dirs.
func Report(ctx context.Context, dirs []string, o ReportOptions) (*report.Report, []Run, error) {
	ao := o.Baselines.apply(o.Analysis)
	var runs []Run
	for _, dir := range dirs {
		d, err := analysis.Load(ctx, dir)
		if err != nil {
			return nil, nil, err
		}
		res, err := analysis.Analyze(ctx, d, ao)
		if err != nil {
			return nil, nil, fmt.Errorf("analyse %s: %w", dir, err)
		}
		runs = append(runs, NewRun(d, res))
		if o.Log != nil {
			fmt.Fprintf(o.Log, "deepconf: %s: %d instances analysed\n", dir, len(d.Predictions))
		}
	}
	rep, err := Assemble(ctx, runs, o)
	return rep, runs, err
}

// Assemble builds the report of analysed runs: a section per run (facts,
// RunTables, figures, misclassified examples) and, for several runs, the
// comparison tables (CompareTables) and figures (the metrics per run and
// one reliability curve per run). o.Analysis, o.Baselines and
// o.Log are not used.
func Assemble(ctx context.Context, runs []Run, o ReportOptions) (*report.Report, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("report: no runs")
	}
	rep := &report.Report{Title: o.Title, Generator: o.Generator, MaxExamples: o.MaxExamples}
	for i := range runs {
		rr, err := runSection(ctx, &runs[i], o.MaxExamples)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", runs[i].Dir, err)
		}
		rep.Runs = append(rep.Runs, rr)
	}
	if rep.Title == "" {
		rep.Title = "deepconf report: " + rep.Runs[0].Name
		if len(runs) > 1 {
			rep.Title = fmt.Sprintf("deepconf report: %d runs", len(runs))
		}
	}
	if len(runs) > 1 {
		in := make([]analysis.CompareRun, len(runs))
		for i := range runs {
			in[i] = runs[i].CompareRun
		}
		c, err := analysis.Compare(in)
		if err != nil {
			return nil, err
		}
		fig, err := comparisonFigure(c)
		if err != nil {
			return nil, err
		}
		rep.Comparisons, rep.ComparisonFigures = CompareTables(c), []*report.Figure{fig}
		rel, err := reliabilityByModel(c, runs)
		if err != nil {
			return nil, err
		}
		if rel != nil {
			rep.ComparisonFigures = append(rep.ComparisonFigures, rel)
		}
	}
	return rep, nil
}

// runSection builds the report section of one run, with at most maxExamples
// misclassified examples (report.Report.MaxExamples' rule).
func runSection(ctx context.Context, run *Run, maxExamples int) (report.RunReport, error) {
	res, d := run.Result, run.Data
	rr := report.RunReport{
		Name:        run.Model + " on " + run.Benchmark,
		Dir:         run.Dir,
		RandomModel: res.RandomModel,
		Hypothesis: report.Hypothesis{
			Statement: res.Hypothesis.Statement,
			Verdict:   res.Hypothesis.Verdict,
			Result:    res.Hypothesis.Result,
		},
		Hints:        res.Diagnostics.Hints,
		SmallSamples: smallSamples(res.Hypothesis),
		Notes:        res.Coverage.Notes,
	}
	if d.Run != nil {
		rr.Detector = d.Run.Config.Detector
	}
	rr.Facts = runFacts(run)
	rr.Tables = RunTables(res)
	figs, err := runFigures(run)
	if err != nil {
		return rr, err
	}
	rr.Figures = figs
	limit := maxExamples
	switch {
	case limit == 0:
		limit = report.DefaultMaxExamples
	case limit < 0:
		limit = 0
	}
	rr.Examples, rr.ExamplesTotal, err = misclassified(ctx, d, res, limit)
	return rr, err
}

// smallSamples are the hypothesis's small-sample flags that its result
// text does not already state: each warning is shown once.
func smallSamples(h analysis.Hypothesis) []string {
	var out []string
	for _, f := range h.Flags {
		if !strings.Contains(h.Result, f) {
			out = append(out, f)
		}
	}
	return out
}

// runFacts describes the run.
func runFacts(run *Run) []report.Fact {
	res, d := run.Result, run.Data
	facts := []report.Fact{{Name: "model", Value: run.Model}, {Name: "benchmark", Value: run.Benchmark}}
	add := func(name, value string) {
		if value != "" {
			facts = append(facts, report.Fact{Name: name, Value: value})
		}
	}
	add("policy", res.Policy)
	if d.Run != nil {
		add("refusal detector", d.Run.Config.Detector)
		if e := d.Run.Engine; e != nil && e.Name != "" {
			name, v := e.Name, e.Version
			if !strings.HasPrefix(v, name) {
				v = strings.TrimSpace(name + " " + v)
			}
			add("engine", v)
		}
		add("tool", strings.TrimSpace(d.Run.Tool+" "+d.Run.Version))
		add("started", d.Run.Started.UTC().Format("2006-01-02 15:04:05 UTC"))
		if d.Run.Finished != nil {
			add("finished", d.Run.Finished.UTC().Format("2006-01-02 15:04:05 UTC"))
		} else {
			add("finished", "no (the run is incomplete)")
		}
	}
	predictions := fmt.Sprintf("%s (%d instances)", d.PredictionsPath, len(d.Predictions))
	if c := res.Coverage; c.Instances > 0 && c.Instances != c.Analysed {
		predictions = fmt.Sprintf("%s (%d of %d instances)", d.PredictionsPath, c.Analysed, c.Instances)
	}
	add("predictions", predictions)
	add("split", splitText(res.Split))
	add("confidence level", table.Level(res.Level))
	return facts
}

// ReportOutput says where WriteReport writes a report.
type ReportOutput struct {
	// HTML is the report file; its directory is created.
	HTML string
	// FigureDirs receive each run's figures (PNG and SVG), one directory
	// per run; empty writes no figure files. The comparison figures go to
	// figures/ next to HTML.
	FigureDirs []string
	// Markdown and LaTeX, when set, receive every table of the report
	// (report.Report.WriteMarkdown, WriteLaTeX).
	Markdown, LaTeX string
}

// ReportFiles are the files WriteReport wrote.
type ReportFiles struct {
	// FigureDirs are the directories that received figures, and Figures
	// the number of files written into each.
	FigureDirs []string
	Figures    []int
	// HTML is the report file; Tables the Markdown and LaTeX exports
	// written.
	HTML   string
	Tables []string
}

// WriteReport writes the report rep where out says, each file replaced
// atomically.
func WriteReport(rep *report.Report, out ReportOutput) (ReportFiles, error) {
	var files ReportFiles
	if err := os.MkdirAll(filepath.Dir(out.HTML), 0o755); err != nil {
		return files, fmt.Errorf("report: %w", err)
	}
	if len(out.FigureDirs) > 0 {
		if len(out.FigureDirs) != len(rep.Runs) {
			return files, fmt.Errorf("report: %d figure directories for %d runs", len(out.FigureDirs), len(rep.Runs))
		}
		write := func(dir string, figs []*report.Figure) error {
			paths, err := report.WriteFigures(dir, figs)
			if err != nil {
				return err
			}
			files.FigureDirs, files.Figures = append(files.FigureDirs, dir), append(files.Figures, len(paths))
			return nil
		}
		for i, dir := range out.FigureDirs {
			if err := write(dir, rep.Runs[i].Figures); err != nil {
				return files, err
			}
		}
		if len(rep.ComparisonFigures) > 0 {
			if err := write(filepath.Join(filepath.Dir(out.HTML), "figures"), rep.ComparisonFigures); err != nil {
				return files, err
			}
		}
	}
	if err := rep.WriteHTMLFile(out.HTML); err != nil {
		return files, err
	}
	files.HTML = out.HTML
	for _, ex := range []struct {
		path  string
		write func(io.Writer) error
	}{{out.Markdown, rep.WriteMarkdown}, {out.LaTeX, rep.WriteLaTeX}} {
		if ex.path == "" {
			continue
		}
		if err := atomicfile.Write(ex.path, ex.write); err != nil {
			return files, err
		}
		files.Tables = append(files.Tables, ex.path)
	}
	return files, nil
}
