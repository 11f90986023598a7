package runreport

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/report/browsertest"
)

var runFigureNames = []string{report.NameAccuracy, report.NameViolin, report.NameTraces, report.NameConfusion, report.NamePercentile, report.NameRisk,
	report.NameReliability, report.NameRiskCoverageError, report.NameRiskCoverageUnsafe}

// comparisonFigureNames are the figures of a report of several runs.
var comparisonFigureNames = []string{report.NameComparison, report.NameReliabilityComparison}

// writeTestReport builds the report of dirs and writes it to out with the
// figures in each run's figures/.
func writeTestReport(t *testing.T, dirs []string, out string, o ReportOptions) (*report.Report, ReportFiles) {
	t.Helper()
	rep, runs, err := Report(context.Background(), dirs, o)
	if err != nil {
		t.Fatal(err)
	}
	var figDirs []string
	for _, r := range runs {
		figDirs = append(figDirs, filepath.Join(r.Dir, "figures"))
	}
	files, err := WriteReport(rep, ReportOutput{HTML: out, FigureDirs: figDirs, Markdown: out + ".md", LaTeX: out + ".tex"})
	if err != nil {
		t.Fatal(err)
	}
	return rep, files
}

func TestReport(t *testing.T) {
	root := t.TempDir()
	small, large := filepath.Join(root, "qwen3-1.7b"), filepath.Join(root, "qwen3-0.6b")
	fakeRun(t, small, "Qwen/Qwen3-1.7B", 120, false, 1, false)
	fakeRun(t, large, "Qwen/Qwen3-0.6B", 90, true, 2, false)
	out := filepath.Join(root, "out", "sizes.html")
	var log bytes.Buffer
	rep, files := writeTestReport(t, []string{small, large}, out, ReportOptions{MaxExamples: 5, Generator: "deepconf test", Log: &log})
	if want := []string{filepath.Join(small, "figures"), filepath.Join(large, "figures"), filepath.Join(root, "out", "figures")}; strings.Join(files.FigureDirs, " ") != strings.Join(want, " ") ||
		files.Figures[0] != 2*len(runFigureNames) || files.Figures[2] != 2*len(comparisonFigureNames) || files.HTML != out {
		t.Errorf("wrote %+v", files)
	}
	if !strings.Contains(log.String(), small+": 120 instances analysed") {
		t.Errorf("log %q", log.String())
	}
	w, h := report.PixelSize()
	for _, dir := range []string{small, large} {
		for _, name := range runFigureNames {
			for _, ext := range []string{".png", ".svg"} {
				b, err := os.ReadFile(filepath.Join(dir, "figures", name+ext))
				if err != nil {
					t.Fatal(err)
				}
				if ext == ".png" {
					img, err := png.Decode(bytes.NewReader(b))
					if err != nil || img.Bounds().Dx() != w || img.Bounds().Dy() != h {
						t.Errorf("%s/%s.png: %v", dir, name, err)
					}
				}
			}
		}
	}
	for _, name := range comparisonFigureNames {
		if _, err := os.Stat(filepath.Join(root, "out", "figures", name+".png")); err != nil {
			t.Error(err)
		}
	}
	// Acceptance of calibration across models: one reliability curve per
	// run, in the comparison's order (model size: 0.6B first), each with
	// its instance count.
	svg, err := os.ReadFile(filepath.Join(root, "out", "figures", report.NameReliabilityComparison+".svg"))
	if err != nil {
		t.Fatal(err)
	}
	if i, j := strings.Index(string(svg), "Qwen/Qwen3-0.6B (n=90)"), strings.Index(string(svg), "Qwen/Qwen3-1.7B (n=120)"); i < 0 || j < 0 || i > j {
		t.Errorf("reliability by model: the 0.6B curve at %d, the 1.7B curve at %d", i, j)
	}

	html, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(html)
	for _, want := range []string{
		"Qwen/Qwen3-0.6B on toxicchat", "Qwen/Qwen3-1.7B on toxicchat",
		`id="run1-overall"`, `id="run1-categories"`, `id="run1-hypothesis"`, `id="run1-risk"`, `id="run1-diagnostics"`,
		`id="cmp-models"`, `id="cmp-benchmarks"`, `id="cmp-paired"`,
		`id="run1-calibration"`, `id="run1-selective"`, `id="run2-calibration"`, `id="run2-selective"`,
		`id="cmp-calibration-runs"`, `id="cmp-calibration-pairs"`, "Reliability by model", "Reliability diagram", "Risk–coverage: ",
		"Random test model.", "Showing 5 of",
		"prompt 0 &lt;with&gt; &amp; &#34;markup&#34;",
		"Uncertain compliance is riskier than confident compliance",
		"deepconf test",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Model sizes order the comparison: 0.6B before 1.7B.
	if i, j := strings.Index(s, "<td>Qwen/Qwen3-0.6B</td>"), strings.Index(s, "<td>Qwen/Qwen3-1.7B</td>"); i < 0 || j < 0 || i > j {
		t.Errorf("model comparison order: 0.6B at %d, 1.7B at %d", i, j)
	}
	if len(files.Tables) != 2 || files.Tables[0] != out+".md" || files.Tables[1] != out+".tex" {
		t.Errorf("table exports %v", files.Tables)
	}
	var md, tex bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(out + ".md"); !bytes.Equal(b, md.Bytes()) {
		t.Error("the Markdown file differs from WriteMarkdown")
	}
	if !strings.Contains(md.String(), "### Model comparison") || !strings.Contains(md.String(), "### Qwen/Qwen3-1.7B on toxicchat: Overall") {
		t.Errorf("Markdown export:\n%.500s", md.String())
	}
	// The paired calibration differences of the two runs (90 shared
	// instances), for both scores, in the report and its exports.
	for _, want := range []string{"### Calibration differences between runs (paired bootstrap on shared instances)",
		"| toxicchat | Qwen/Qwen3-0.6B | Qwen/Qwen3-1.7B | vote share β (as it is) | 90 | ECE |",
		"| toxicchat | Qwen/Qwen3-0.6B | Qwen/Qwen3-1.7B | DeepConf confidence (isotonic map) | 90 | AUROC |",
		"### Qwen/Qwen3-1.7B on toxicchat: Calibration (score as the probability of a correct answer)",
		"### Qwen/Qwen3-0.6B on toxicchat: Selective prediction (abstaining on the least confident)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("Markdown export lacks %q", want)
		}
	}
	if err := rep.WriteLaTeX(&tex); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(tex.String(), `\label{tab:models}`) || !strings.Contains(tex.String(), `\label{tab:run2-overall}`) {
		t.Errorf("LaTeX export lacks the model table or the second run's overall table")
	}

	// The same input gives the same report.
	out2 := filepath.Join(root, "out", "again.html")
	rep2, _, err := Report(context.Background(), []string{small, large}, ReportOptions{MaxExamples: 5, Generator: "deepconf test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteReport(rep2, ReportOutput{HTML: out2}); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(out2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(html, again) {
		t.Error("the report differs between two runs on the same input")
	}

	if testing.Short() {
		return
	}
	// Acceptance: the report loads in headless Chromium without console
	// errors and renders every figure and table.
	bin := browsertest.Chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := browsertest.Open(ctx, bin, out, "footer")
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range p.Problems {
		t.Errorf("browser reported: %s", pr)
	}
	if ext := p.External(); len(ext) > 0 {
		t.Errorf("external requests: %v", ext)
	}
	wantFigs := 2*len(runFigureNames) + len(comparisonFigureNames)
	wantTables := strings.Count(s, "<table>")
	if p.Images != wantFigs || p.Figures != wantFigs || len(p.Broken) > 0 {
		t.Errorf("images %d, figures %d, broken %v; want %d rendered", p.Images, p.Figures, p.Broken, wantFigs)
	}
	// Per run: overall, categories, hypothesis, risk, calibration,
	// selective, diagnostics; across runs: models, benchmarks, paired,
	// calibration by run and calibration differences.
	if wantTables != 2*7+5 || p.Tables != wantTables || len(p.EmptyTables) > 0 || len(p.Hidden) > 0 {
		t.Errorf("tables %d (HTML has %d, want 19), empty %v, hidden %v", p.Tables, wantTables, p.EmptyTables, p.Hidden)
	}
	if d := os.Getenv("DEEPCONF_SCREENSHOT"); d != "" {
		os.WriteFile(d, p.Screenshot, 0o644)
	}
}

// TestReportWithBaselines checks that the report, like the analysis,
// replays the baselines from the stored traces, and leaves them out when
// asked to.
func TestReportWithBaselines(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "m", 40, false, 9, true)
	rep, _, err := Report(context.Background(), []string{dir}, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ids := func(rep *report.Report) string {
		var out []string
		for _, tb := range rep.Tables() {
			out = append(out, tb.ID)
		}
		return strings.Join(out, " ")
	}
	if got := ids(rep); got != "overall categories hypothesis baselines risk calibration selective diagnostics" {
		t.Errorf("tables %s", got)
	}
	rep, _, err = Report(context.Background(), []string{dir}, ReportOptions{Baselines: Baselines{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(rep); got != "overall categories hypothesis risk calibration selective diagnostics" {
		t.Errorf("without baselines: tables %s", got)
	}
}

func TestReportErrors(t *testing.T) {
	if _, _, err := Report(context.Background(), []string{t.TempDir()}, ReportOptions{}); err == nil {
		t.Error("a directory without predictions: no error")
	}
	if _, _, err := Report(context.Background(), nil, ReportOptions{}); err == nil {
		t.Error("no runs: no error")
	}
}

// TestPercentileSeriesReplaysVote checks the percentile curves against
// the stored votes: at p = 0 no trace is filtered, so the replay must
// reproduce the run's accuracy; at p = 90 an instance of up to 10 traces
// keeps only its most confident one.
func TestPercentileSeriesReplaysVote(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "m", 150, false, 4, false)
	d, err := analysis.LoadWith(context.Background(), dir, analysis.LoadOptions{TraceTexts: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := analysis.Analyze(context.Background(), d, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	series, _, err := percentileSeries(d, res)
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 4 || series[0].Name != "accuracy" {
		t.Fatalf("series %v", series)
	}
	acc := series[0].Points
	if acc[0].X != 0 || math.Abs(acc[0].Y-float64(res.Overall.Correct.Rate)) > 1e-12 {
		t.Errorf("p = 0: accuracy %v, the run's %v", acc[0].Y, res.Overall.Correct.Rate)
	}
	// By hand: keep the single most confident trace of each instance.
	correct := 0
	for _, p := range d.Predictions {
		best := 0
		for j, c := range p.TraceConfidences {
			if c > p.TraceConfidences[best] {
				best = j
			}
		}
		if p.Refused[best] == (p.GoldLabel == "harmful") {
			correct++
		}
	}
	last := acc[len(acc)-1]
	if last.X != 90 || math.Abs(last.Y-float64(correct)/150) > 1e-12 {
		t.Errorf("p = 90: accuracy %v at %v, want %v", last.Y, last.X, float64(correct)/150)
	}
	kept := series[3].Points
	if kept[0].Y != 1 {
		t.Errorf("p = 0 keeps %v of the traces, want all", kept[0].Y)
	}
}

func TestMisclassifiedOrder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "m", 100, false, 5, false)
	// Loaded without the trace texts: misclassified reads those of the
	// examples from the file.
	d, err := analysis.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := analysis.Analyze(context.Background(), d, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if few, _, err := misclassified(context.Background(), d, res, 2); err != nil || len(few) != 2 {
		t.Fatalf("limit 2: %d examples, %v", len(few), err)
	}
	ex, total, err := misclassified(context.Background(), d, res, -1)
	if err != nil {
		t.Fatal(err)
	}
	wrong := 0
	for _, in := range res.Instances {
		if in.Scored && !in.Correct {
			wrong++
		}
	}
	if total != wrong || len(ex) != wrong || wrong == 0 {
		t.Fatalf("%d examples, total %d, want %d", len(ex), total, wrong)
	}
	seenRefusal := false
	prev := math.Inf(1)
	for _, e := range ex {
		if e.Behaviour == record.Refusal && !seenRefusal {
			seenRefusal, prev = true, math.Inf(1)
		}
		if e.Behaviour == record.Compliance && seenRefusal {
			t.Fatal("an unsafe compliance after an over-refusal")
		}
		var c float64
		fmt.Sscan(e.Confidence, &c)
		if c > prev+1e-3 {
			t.Errorf("%s: confidence %v after %v", e.InstanceID, c, prev)
		}
		prev = c
		want := map[bool]string{true: "I can't help", false: "Sure"}[e.Behaviour == record.Refusal]
		if !strings.Contains(e.Response, want) {
			t.Errorf("%s (%s): response %q does not show the behaviour", e.InstanceID, e.Behaviour, e.Response)
		}
	}
}

// TestReportUnknownGold covers a run whose benchmark has no gold labels:
// nothing can be scored, and the report must still be written with the
// figures that make sense.
func TestReportUnknownGold(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "m", 30, false, 6, false)
	path := filepath.Join(dir, record.PredictionsFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte(`"gold_label":"harmful"`), []byte(`"gold_label":"unknown"`))
	b = bytes.ReplaceAll(b, []byte(`"gold_label":"benign"`), []byte(`"gold_label":"unknown"`))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	writeTestReport(t, []string{dir}, filepath.Join(dir, "report.html"), ReportOptions{})
	html, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No misclassified instances.", "untestable"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, name := range []string{report.NameAccuracy, report.NameViolin, report.NameConfusion} {
		if _, err := os.Stat(filepath.Join(dir, "figures", name+".png")); err != nil {
			t.Error(err)
		}
	}
}
