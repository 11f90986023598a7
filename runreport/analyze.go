package runreport

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/sweep"
	"github.com/deepconf/deepconf/table"
)

// ScoringBoth asks AnalyzeRun for both scorings: analysis.json (refusal)
// and analysis_seed.json (the prototype's).
const ScoringBoth = "both"

// Baselines configure the comparison policies replayed from a run's stored
// traces into its analysis (sweep.Baselines). The zero value replays them.
type Baselines struct {
	// Off replays none.
	Off bool
	// Traces is N of the fixed-N majority and DeepConf offline baselines
	// (0: the complete traces every instance stored).
	Traces int
}

// apply returns o with its Baselines hook set, unless it has one or b is
// off.
func (b Baselines) apply(o analysis.Options) analysis.Options {
	if o.Baselines == nil && !b.Off {
		o.Baselines = sweep.Baselines(sweep.BaselineOptions{Traces: b.Traces})
	}
	return o
}

// AnalyzeOptions configure AnalyzeRun. The zero value analyses with refusal
// scoring and the defaults of analysis.Options, replays the baselines,
// writes into the run directory and writes the report.
type AnalyzeOptions struct {
	// Scoring is analysis.ScoringRefusal (default), analysis.ScoringPrototype
	// or ScoringBoth.
	Scoring string
	// Analysis configures the refusal-scoring analysis (split, level,
	// bootstrap, risk bins, max traces, labels); Analysis.Baselines nil
	// replays the baselines of Baselines.
	Analysis  analysis.Options
	Baselines Baselines
	// Benchmark and Data, both set, load the benchmark's gold labels
	// (benchmark.GoldLabels) for predictions without any (the
	// prototype's); they override Analysis.Labels.
	Benchmark, Data string
	// Out is the output directory (default: the run directory).
	Out string
	// Exports are the export formats (FormatCSV …; ParseFormats parses a
	// list) and ExportTokens adds
	// the per-token arrays to the trace exports.
	Exports      []string
	ExportTokens bool
	// NoReport skips the figures and report.html. Prototype scoring alone has
	// no report.
	NoReport bool
	// MaxExamples caps the report's misclassified examples
	// (report.Report.MaxExamples' rule).
	MaxExamples int
	// Generator is printed in the report's footer ("deepconf v0.3.0").
	Generator string
	// Log receives notices (nil: none).
	Log io.Writer
}

// Outcome is what AnalyzeRun computed and wrote.
type Outcome struct {
	// Dir is the run directory and Out the output directory.
	Dir, Out string
	Data     *analysis.RunData
	// Result is the refusal-scoring analysis (also computed for the
	// exports under prototype scoring), Prototype the prototype's (nil unless
	// asked for).
	Result    *analysis.Result
	Prototype *analysis.PrototypeResult
	// Scoring is the scoring asked for.
	Scoring string
	// Written lists analysis.json (and analysis_seed.json) and the exports,
	// in the order written; Report the figures and report.html.
	Written []string
	Report  ReportFiles
}

// Files lists what AnalyzeRun wrote, relative to Out, in the order
// written: the exports, the figures as one entry ("figures/ (12 files)"),
// report.html, then analysis.json (and analysis_seed.json).
func (o *Outcome) Files() []string {
	var out []string
	rel := func(p string) string {
		if r, err := filepath.Rel(o.Out, p); err == nil && !strings.HasPrefix(r, "..") {
			return r
		}
		return p
	}
	analysisFiles := map[string]bool{filepath.Join(o.Out, record.AnalysisFile): true, filepath.Join(o.Out, analysis.PrototypeFile): true}
	var last []string
	for _, p := range o.Written {
		if analysisFiles[p] {
			last = append(last, rel(p))
			continue
		}
		out = append(out, rel(p))
	}
	for i, dir := range o.Report.FigureDirs {
		out = append(out, fmt.Sprintf("%s/ (%d files)", rel(dir), o.Report.Figures[i]))
	}
	if o.Report.HTML != "" {
		out = append(out, rel(o.Report.HTML))
	}
	return append(out, last...)
}

// Refusal reports whether the outcome holds the refusal scoring asked for.
func (o *Outcome) Refusal() bool { return o.Scoring != analysis.ScoringPrototype }

// Tables returns the outcome's tables, which tables.md and tables.tex hold:
// RunTables under refusal scoring, then PrototypeTables under prototype scoring.
func (o *Outcome) Tables() []table.Table {
	var tables []table.Table
	if o.Refusal() {
		tables = append(tables, RunTables(o.Result)...)
	}
	if o.Prototype != nil {
		tables = append(tables, PrototypeTables(o.Prototype)...)
	}
	return tables
}

// AnalyzeRun analyses the run directory dir and writes its results into
// o.Out: analysis.json (the refusal scoring; the prototype's format under
// prototype scoring alone), analysis_seed.json (ScoringBoth), the exports, and,
// under refusal scoring, the figures (figures/) and report.html. It is
// deepconf analyze, and the analysis deepconf run does when a run finishes.
// The outcome holds what it computed and wrote (print it with
// WriteSummary).
func AnalyzeRun(ctx context.Context, dir string, o AnalyzeOptions) (*Outcome, error) {
	scoring := o.Scoring
	switch scoring {
	case "":
		scoring = analysis.ScoringRefusal
	case analysis.ScoringRefusal, analysis.ScoringPrototype, ScoringBoth:
	default:
		return nil, fmt.Errorf("scoring %q: want %s, %s or %s", o.Scoring, analysis.ScoringRefusal, analysis.ScoringPrototype, ScoringBoth)
	}
	for _, f := range o.Exports {
		switch f {
		case FormatCSV, FormatParquet, FormatMarkdown, FormatLaTeX:
		default:
			return nil, fmt.Errorf("export format %q: want %s, %s, %s or %s", f, FormatCSV, FormatParquet, FormatMarkdown, FormatLaTeX)
		}
	}
	if (o.Benchmark == "") != (o.Data == "") {
		return nil, fmt.Errorf("gold labels: give both the benchmark and its data, or neither")
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("run directory %s: not a directory", dir)
	}
	out := o.Out
	if out == "" {
		out = dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("output directory: %w", err)
	}
	// What a kill during an earlier analysis left.
	for _, dir := range []string{out, filepath.Join(out, "figures")} {
		removed, err := atomicfile.CleanTemp(dir)
		if err != nil {
			return nil, fmt.Errorf("clean %s: %w", dir, err)
		}
		if len(removed) > 0 && o.Log != nil {
			fmt.Fprintf(o.Log, "deepconf: removed %d temporary files an interrupted analysis left in %s\n", len(removed), dir)
		}
	}
	ao := o.Baselines.apply(o.Analysis)
	if o.Benchmark != "" {
		labels, err := benchmark.GoldLabels(ctx, o.Benchmark, benchmark.Options{Data: o.Data})
		if err != nil {
			return nil, err
		}
		ao.Labels = labels
	}
	d, err := analysis.Load(ctx, dir)
	if err != nil {
		return nil, err
	}
	if len(d.Predictions) == 0 {
		return nil, fmt.Errorf("%s: no predictions to analyse", d.PredictionsPath)
	}
	if filepath.Base(d.PredictionsPath) == analysis.CheckpointFile && o.Log != nil {
		fmt.Fprintf(o.Log, "deepconf: %s has no %s; analysing the prototype's %s (an unfinished run)\n", dir, record.PredictionsFile, analysis.CheckpointFile)
	}

	oc := &Outcome{Dir: dir, Out: out, Data: d, Scoring: scoring}
	doRefusal, doPrototype := scoring != analysis.ScoringPrototype, scoring != analysis.ScoringRefusal
	// The refusal analysis also scores the instances of the CSV/Parquet
	// exports under prototype scoring.
	if doRefusal || len(o.Exports) > 0 {
		if oc.Result, err = analysis.Analyze(ctx, d, ao); err != nil {
			return nil, err
		}
		oc.Result.Dir = dir
	}
	if doPrototype {
		if oc.Prototype, err = analysis.AnalyzePrototype(d, ao.MaxTraces, ao.Labels); err != nil {
			return nil, err
		}
	}
	// analysis.json is written last: its presence means the analysis is
	// complete (runner.AnalysisComplete), so a kill at any step before it
	// leaves a run that deepconf run completes.
	if len(o.Exports) > 0 {
		ps, err := Export(ctx, d, oc.Result, out, ExportOptions{Formats: o.Exports, TokenArrays: o.ExportTokens, Tables: oc.Tables()})
		oc.Written = append(oc.Written, ps...)
		if err != nil {
			return oc, err
		}
	}
	if doRefusal && !o.NoReport {
		rep, err := Assemble(ctx, []Run{NewRun(d, oc.Result)}, ReportOptions{MaxExamples: o.MaxExamples, Generator: o.Generator})
		if err != nil {
			return oc, fmt.Errorf("report: %w", err)
		}
		oc.Report, err = WriteReport(rep, ReportOutput{HTML: filepath.Join(out, record.ReportFile), FigureDirs: []string{filepath.Join(out, "figures")}})
		if err != nil {
			return oc, fmt.Errorf("report: %w", err)
		}
	}
	if doPrototype {
		name := record.AnalysisFile
		if doRefusal {
			name = analysis.PrototypeFile
		}
		p := filepath.Join(out, name)
		if err := atomicfile.Write(p, oc.Prototype.WriteJSON); err != nil {
			return oc, err
		}
		oc.Written = append(oc.Written, p)
	}
	if doRefusal {
		p := filepath.Join(out, record.AnalysisFile)
		if err := atomicfile.Write(p, oc.Result.WriteJSON); err != nil {
			return oc, err
		}
		oc.Written = append(oc.Written, p)
	}
	return oc, nil
}
