package report

import (
	"bytes"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/table"
)

// DefaultMaxExamples is the number of misclassified examples shown per run
// when Report.MaxExamples is 0.
const DefaultMaxExamples = 25

// MaxExampleChars caps the characters of a prompt or response shown in an
// example; longer texts are cut with a note.
const MaxExampleChars = 1200

// Report is the content of report.html: everything is plain data computed
// by the caller (package report does not read run directories).
type Report struct {
	Title string
	// Generator is printed in the footer (e.g. "deepconf v0.3.0"). No
	// time stamp is added, so that the same input gives the same file.
	Generator string
	// Runs holds one section per run directory.
	Runs []RunReport
	// Comparisons are the tables across runs (model comparison, benchmark
	// comparison, paired tests) and ComparisonFigures their figures; both
	// are empty for a single run.
	Comparisons       []table.Table
	ComparisonFigures []*Figure
	// Limitations are added to the ones AllLimitations derives from the runs.
	Limitations []string
	// MaxExamples caps the misclassified examples shown per run
	// (DefaultMaxExamples when 0, none when negative).
	MaxExamples int
}

// RunReport is the section of one run.
type RunReport struct {
	// Name is the section heading, e.g. "Qwen/Qwen3-0.6B on toxicchat".
	Name string
	Dir  string
	// Facts describe the run (model, benchmark, policy, detector, split,
	// instances …) as name/value pairs, in order.
	Facts []Fact
	// RandomModel marks a run of a generated random-weight test model.
	RandomModel bool
	// Detector is the refusal detector's spec (patterns, patterns:seed,
	// judge:<model>), for the limitations.
	Detector   string
	Hypothesis Hypothesis
	// Tables are the run's tables in order (overall, per category,
	// baselines, diagnostics …).
	Tables  []table.Table
	Figures []*Figure
	// Hints are the diagnostics' warnings; SmallSamples the small-sample
	// flags of the statistics (listed once, in the limitations).
	Hints        []string
	SmallSamples []string
	// Notes say what the analysis does not cover (an unfinished run,
	// skipped instances, no run.json); they are shown under the heading.
	Notes []string
	// Examples are misclassified instances, most instructive first; at
	// most Report.MaxExamples are shown. ExamplesTotal is the number of
	// misclassified instances (≥ len(Examples)).
	Examples      []Example
	ExamplesTotal int
}

// Fact is a name/value pair describing a run.
type Fact struct{ Name, Value string }

// Hypothesis is the hypothesis and its test result, in words.
type Hypothesis struct {
	Statement string
	// Verdict is a short word (supported, not_supported, contradicted,
	// untestable) and Result the sentence(s) with the numbers.
	Verdict string
	Result  string
}

// Example is a misclassified instance.
type Example struct {
	InstanceID string
	// Gold is the prompt's gold label, Behaviour the model's vote.
	Gold, Behaviour string
	Category        string
	Confidence      string
	Prompt          string
	// Response is a trace that voted for the behaviour.
	Response string
}

// detectorLimitation describes the limits of a refusal detector spec.
func detectorLimitation(spec string) string {
	switch {
	case spec == "patterns:seed":
		return "Refusals were detected with the prototype's 48-phrase substring list (patterns:seed): against gold refusal labels it scores F1 0.801 on WildGuardTest and 0.799 on XSTest v2 (recall 0.676): many refusals worded otherwise count as compliance."
	case spec == "" || spec == "patterns":
		return "Refusals were detected with deepconf's rule-based detector (patterns): against gold refusal labels it scores F1 0.903 on WildGuardTest and 0.924 on XSTest v2, so roughly one response in ten is mislabelled; paraphrased refusals are missed and partial refusals count as refusals."
	case strings.HasPrefix(spec, "judge:"):
		return fmt.Sprintf("Refusals were judged by an LLM (%s): its own errors enter every statistic, and unparseable verdicts are counted apart, never mapped to a label; measure it with deepconf refusal-eval.", spec)
	}
	return fmt.Sprintf("Refusals were detected with %q; its error rate against gold refusal labels is unknown here (measure it with deepconf refusal-eval).", spec)
}

// AllLimitations returns the report's limitations: a warning for each run of a
// random-weight model, the small-sample flags, the limits of each refusal
// detector used, the general caveats of the design, then r.Limitations.
func (r *Report) AllLimitations() []string {
	var out []string
	for _, run := range r.Runs {
		if run.RandomModel {
			out = append(out, fmt.Sprintf("%s uses a generated random-weight test model: its numbers say nothing about any real model and only show that the pipeline runs.", run.Name))
		}
	}
	for _, run := range r.Runs {
		if len(run.SmallSamples) > 0 {
			out = append(out, fmt.Sprintf("%s: small samples (intervals are wide and tests have little power): %s.", run.Name, strings.Join(run.SmallSamples, "; ")))
		}
	}
	seen := map[string]bool{}
	for _, run := range r.Runs {
		if !seen[run.Detector] {
			seen[run.Detector] = true
			out = append(out, detectorLimitation(run.Detector))
		}
	}
	out = append(out,
		"Gold labels describe the prompt (harmful or benign), not the response: complying with a harmful prompt counts as unsafe compliance even when the answer is harmless or useless.",
		"Confidence is DeepConf's token-level confidence (the negative mean of the top-k log-probabilities), not a calibrated probability; the confident/uncertain split is relative to the run (its median unless another split was chosen), so categories of different runs are not directly comparable.",
		"Intervals and p-values assume independent instances and are not corrected for the number of tests in this report unless stated.",
	)
	return append(out, r.Limitations...)
}

// The view model of the template: tables with alignment, figures with
// their images encoded.
type (
	viewReport struct {
		Title, Generator string
		Runs             []viewRun
		Comparisons      []viewTable
		ComparisonFigs   []viewFigure
		Limitations      []string
	}
	viewRun struct {
		ID, Name, Dir  string
		Facts          []Fact
		RandomModel    bool
		Hypothesis     Hypothesis
		VerdictClass   string
		VerdictText    string
		Tables         []viewTable
		Figures        []viewFigure
		Hints, Notes   []string
		Examples       []viewExample
		ExamplesShown  int
		ExamplesTotal  int
		ExamplesCapped bool
	}
	viewTable struct {
		ID, Title string
		Header    []viewCell
		Rows      [][]viewCell
		Notes     []string
	}
	viewCell struct {
		Text string
		Num  bool
	}
	viewFigure struct {
		ID, Title, Caption string
		Src                template.URL
		Width, Height      int
	}
	viewExample struct {
		Example
		PromptNote, ResponseNote string
	}
)

// cut shortens s to MaxExampleChars characters and says how long it was.
func cut(s string) (string, string) {
	n := utf8.RuneCountInString(s)
	if n <= MaxExampleChars {
		return s, ""
	}
	r := []rune(s)
	return string(r[:MaxExampleChars]) + " …", fmt.Sprintf("cut: %d of %d characters shown", MaxExampleChars, n)
}

func newViewTable(t *table.Table, prefix string, i int) (viewTable, error) {
	if err := t.Validate(); err != nil {
		return viewTable{}, err
	}
	id := t.ID
	if id == "" {
		id = fmt.Sprintf("table%d", i+1)
	}
	v := viewTable{ID: prefix + id, Title: t.Title, Notes: t.Notes}
	num := make([]bool, len(t.Header))
	for j, h := range t.Header {
		num[j] = t.Numeric(j)
		v.Header = append(v.Header, viewCell{Text: h, Num: num[j]})
	}
	for _, r := range t.Rows {
		row := make([]viewCell, len(r))
		for j, c := range r {
			row[j] = viewCell{Text: c, Num: num[j]}
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

func newViewFigure(f *Figure, prefix string) (viewFigure, error) {
	b, err := f.PNG()
	if err != nil {
		return viewFigure{}, err
	}
	w, h := PixelSize()
	return viewFigure{
		ID: prefix + f.Name, Title: f.Title, Caption: f.Caption,
		// The data URL is built here from our own PNG bytes: safe.
		Src:   template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b)),
		Width: w, Height: h,
	}, nil
}

// view builds the template's data.
func (r *Report) view() (*viewReport, error) {
	v := &viewReport{Title: r.Title, Generator: r.Generator, Limitations: r.AllLimitations()}
	if v.Title == "" {
		v.Title = "deepconf report"
	}
	maxEx := r.MaxExamples
	if maxEx == 0 {
		maxEx = DefaultMaxExamples
	}
	maxEx = max(maxEx, 0)
	for i, run := range r.Runs {
		id := fmt.Sprintf("run%d", i+1)
		vr := viewRun{
			ID: id, Name: run.Name, Dir: run.Dir, Facts: run.Facts, RandomModel: run.RandomModel,
			Hypothesis: run.Hypothesis, Hints: run.Hints, Notes: run.Notes,
			VerdictText: strings.ReplaceAll(run.Hypothesis.Verdict, "_", " "),
			VerdictClass: strings.Map(func(c rune) rune {
				if c >= 'a' && c <= 'z' || c == '_' {
					return c
				}
				return -1
			}, strings.ToLower(run.Hypothesis.Verdict)),
		}
		if vr.Name == "" {
			vr.Name = run.Dir
		}
		for j := range run.Tables {
			t, err := newViewTable(&run.Tables[j], id+"-", j)
			if err != nil {
				return nil, fmt.Errorf("run %s: %w", vr.Name, err)
			}
			vr.Tables = append(vr.Tables, t)
		}
		for _, f := range run.Figures {
			fv, err := newViewFigure(f, id+"-")
			if err != nil {
				return nil, fmt.Errorf("run %s: %w", vr.Name, err)
			}
			vr.Figures = append(vr.Figures, fv)
		}
		vr.ExamplesTotal = max(run.ExamplesTotal, len(run.Examples))
		for _, e := range run.Examples[:min(len(run.Examples), maxEx)] {
			ve := viewExample{Example: e}
			ve.Prompt, ve.PromptNote = cut(e.Prompt)
			ve.Response, ve.ResponseNote = cut(e.Response)
			vr.Examples = append(vr.Examples, ve)
		}
		vr.ExamplesShown = len(vr.Examples)
		vr.ExamplesCapped = vr.ExamplesShown < vr.ExamplesTotal
		v.Runs = append(v.Runs, vr)
	}
	for j := range r.Comparisons {
		t, err := newViewTable(&r.Comparisons[j], "cmp-", j)
		if err != nil {
			return nil, fmt.Errorf("comparisons: %w", err)
		}
		v.Comparisons = append(v.Comparisons, t)
	}
	for _, f := range r.ComparisonFigures {
		fv, err := newViewFigure(f, "cmp-")
		if err != nil {
			return nil, fmt.Errorf("comparisons: %w", err)
		}
		v.ComparisonFigs = append(v.ComparisonFigs, fv)
	}
	return v, nil
}

//go:embed report.html.tmpl
var htmlTemplate string

// page is the parsed template; it is immutable after parsing.
var pageTemplate = template.Must(template.New("report").Parse(htmlTemplate))

// WriteHTML writes the report as one self-contained HTML file: CSS inline,
// figures as base64 PNG data URLs, no script and no external URL (a
// Content-Security-Policy forbids loading anything else). All text is
// escaped by html/template.
func (r *Report) WriteHTML(w io.Writer) error {
	v, err := r.view()
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, v); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// WriteHTMLFile writes the report to path, replacing it atomically
// (internal/atomicfile).
func (r *Report) WriteHTMLFile(path string) error {
	return atomicfile.Write(path, r.WriteHTML)
}

// Tables returns every table of the report in document order: each run's
// tables, then the comparisons.
func (r *Report) Tables() []table.Table {
	var out []table.Table
	for i, run := range r.Runs {
		for _, t := range run.Tables {
			if len(r.Runs) > 1 {
				if t.Title != "" {
					t.Title = run.Name + ": " + t.Title
				}
				if t.ID != "" {
					t.ID = fmt.Sprintf("run%d-%s", i+1, t.ID)
				}
			}
			out = append(out, t)
		}
	}
	return append(out, r.Comparisons...)
}

// WriteMarkdown writes every table of the report (Tables) as Markdown,
// separated by blank lines.
func (r *Report) WriteMarkdown(w io.Writer) error { return table.WriteMarkdown(w, r.Tables()) }

// WriteLaTeX writes every table of the report (Tables) as LaTeX table
// environments (they need \usepackage{booktabs}).
func (r *Report) WriteLaTeX(w io.Writer) error { return table.WriteLaTeX(w, r.Tables()) }
