package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/report/browsertest"
)

// fakeRun writes a run directory of n instances whose predictions follow
// the controller's rules: each instance's behaviour is the confidence-
// weighted vote of its voting traces. Harmful prompts are refused more
// often, and low-confidence compliances are more often harmful.
func fakeRun(t *testing.T, dir, model string, n int, random bool, seed uint64) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 7))
	started := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	run := record.Run{Tool: "deepconf", Version: "test",
		Config:      record.RunConfig{Model: model, Benchmark: "toxicchat", Detector: "patterns", MaxTraces: 6},
		Engine:      &record.EngineInfo{Name: "llama.cpp", Version: "b0000"},
		RandomModel: random, Started: started, Updated: started, Finished: &started}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, record.RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var lines bytes.Buffer
	for i := range n {
		harmful := i%2 == 0
		k := 2 + rng.IntN(5)
		p := record.Prediction{
			InstanceID: fmt.Sprintf("toxicchat_test_%d", i), Index: i, Policy: "deepconf",
			Prompt:    fmt.Sprintf("prompt %d <with> & \"markup\"", i),
			GoldLabel: map[bool]string{true: "harmful", false: "benign"}[harmful],
			Votes:     map[string]float64{}, Stop: "consensus", FinalPrediction: "safe", ConfidenceCategory: "confident_refusal",
			Traces: []string{}, Confidences: []float64{}, Refused: []bool{}, TokensPerTrace: []int{},
		}
		pRefuse := 0.3
		if harmful {
			pRefuse = 0.7
		}
		var ballots []confidence.Ballot
		for j := range k {
			refused := rng.Float64() < pRefuse
			c := 5 + 10*rng.Float64()
			if !refused && harmful {
				c -= 3 // unsafe compliance is less confident
			}
			tok := 20 + rng.IntN(80)
			p.Traces = append(p.Traces, fmt.Sprintf("trace %d of %d: %s", j, i, map[bool]string{true: "I can't help with that.", false: "Sure, here it is."}[refused]))
			p.Refused = append(p.Refused, refused)
			p.TraceConfidences = append(p.TraceConfidences, c)
			p.Confidences = append(p.Confidences, 0.5)
			p.TokensPerTrace = append(p.TokensPerTrace, tok)
			p.TotalTokens += tok
			label := record.Compliance
			if refused {
				label = record.Refusal
			}
			ballots = append(ballots, confidence.Ballot{Label: label, Weight: c})
		}
		tl, err := confidence.WeightedVote(ballots)
		if err != nil {
			t.Fatal(err)
		}
		p.Behaviour, p.Beta = tl.Winner, tl.Beta
		for j, l := range tl.Labels {
			p.Votes[l] = tl.Votes[j]
		}
		p.NumTracesUsed, p.TracesGenerated, p.TokensGenerated = k, k, p.TotalTokens
		p.AvgTokensPerTrace = float64(p.TotalTokens) / float64(k)
		var sum float64
		refusedN := 0
		for j, c := range p.TraceConfidences {
			sum += c
			if p.Refused[j] {
				refusedN++
			}
		}
		p.Confidence = sum / float64(k)
		p.RefusalRate = float64(refusedN) / float64(k)
		p.AvgConfidence = 0.5
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		lines.Write(b)
		lines.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, record.PredictionsFile), lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func runReportCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := execute(newReportCmd(), args...)
	return out, err
}

var runFigureNames = []string{report.NameAccuracy, report.NameViolin, report.NameTraces, report.NameConfusion, report.NamePercentile, report.NameRisk}

func TestReportCommand(t *testing.T) {
	root := t.TempDir()
	small, large := filepath.Join(root, "qwen3-1.7b"), filepath.Join(root, "qwen3-0.6b")
	fakeRun(t, small, "Qwen/Qwen3-1.7B", 120, false, 1)
	fakeRun(t, large, "Qwen/Qwen3-0.6B", 90, true, 2)
	out := filepath.Join(root, "out", "sizes.html")
	md, tex := filepath.Join(root, "tables.md"), filepath.Join(root, "tables.tex")
	stdout, err := runReportCmd(t, small, large, "-o", out, "--markdown", md, "--latex", tex, "--max-examples", "5")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"wrote 12 figure files to " + filepath.Join(small, "figures"), "wrote 2 figure files to " + filepath.Join(root, "out", "figures"), "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
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
	if _, err := os.Stat(filepath.Join(root, "out", "figures", report.NameComparison+".png")); err != nil {
		t.Error(err)
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
		"Random test model.", "Showing 5 of",
		"prompt 0 &lt;with&gt; &amp; &#34;markup&#34;",
		"Uncertain compliance is riskier than confident compliance",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Model sizes order the comparison: 0.6B before 1.7B.
	if i, j := strings.Index(s, "<td>Qwen/Qwen3-0.6B</td>"), strings.Index(s, "<td>Qwen/Qwen3-1.7B</td>"); i < 0 || j < 0 || i > j {
		t.Errorf("model comparison order: 0.6B at %d, 1.7B at %d", i, j)
	}
	mdb, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mdb), "### Model comparison") || !strings.Contains(string(mdb), "### Qwen/Qwen3-1.7B on toxicchat: Overall") {
		t.Errorf("Markdown export:\n%.500s", mdb)
	}
	texb, err := os.ReadFile(tex)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(texb), `\label{tab:models}`) {
		t.Errorf("LaTeX export lacks the model table")
	}

	// The same input gives the same report.
	out2 := filepath.Join(root, "out", "again.html")
	if _, err := runReportCmd(t, small, large, "-o", out2, "--max-examples", "5", "--figures=false"); err != nil {
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
	// Acceptance: the command's report loads in headless Chromium without
	// console errors and renders every figure and table.
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
	wantFigs := 2*len(runFigureNames) + 1
	wantTables := strings.Count(s, "<table>")
	if p.Images != wantFigs || p.Figures != wantFigs || len(p.Broken) > 0 {
		t.Errorf("images %d, figures %d, broken %v; want %d rendered", p.Images, p.Figures, p.Broken, wantFigs)
	}
	if wantTables != 2*5+3 || p.Tables != wantTables || len(p.EmptyTables) > 0 || len(p.Hidden) > 0 {
		t.Errorf("tables %d (HTML has %d, want 13), empty %v, hidden %v", p.Tables, wantTables, p.EmptyTables, p.Hidden)
	}
	if d := os.Getenv("DEEPCONF_SCREENSHOT"); d != "" {
		os.WriteFile(d, p.Screenshot, 0o644)
	}
}

func TestReportSingleRunDefaults(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "test:tiny (random weights)", 40, true, 3)
	if _, err := runReportCmd(t, dir, "--max-examples", "0"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Contains(s, `<div class="example">`) || !strings.Contains(s, "Showing 0 of") {
		t.Error("--max-examples 0 still shows examples")
	}
	if strings.Contains(s, `id="comparisons"`) {
		t.Error("a single run has a comparison section")
	}
}

func TestReportErrors(t *testing.T) {
	empty := t.TempDir()
	for name, args := range map[string][]string{
		"no args":   {},
		"no run":    {empty},
		"bad split": {empty, "--split", "sideways"},
	} {
		if _, err := runReportCmd(t, args...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestPercentileSeriesReplaysVote checks the percentile curves against
// the stored votes: at p = 0 no trace is filtered, so the replay must
// reproduce the run's accuracy; at p = 90 an instance of up to 10 traces
// keeps only its most confident one.
func TestPercentileSeriesReplaysVote(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "m", 150, false, 4)
	d, err := analysis.LoadWith(context.Background(), dir, analysis.LoadOptions{TraceTexts: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := analysis.Analyze(context.Background(), d, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	series, _ := percentileSeries(d, res)
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
	fakeRun(t, dir, "m", 100, false, 5)
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
	fakeRun(t, dir, "m", 30, false, 6)
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
	if _, err := runReportCmd(t, dir); err != nil {
		t.Fatal(err)
	}
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

// TestAnalyzeReportHook runs deepconf analyze with the report hook: the
// figures and report.html land in --out, with example responses although
// the analysis skips the trace texts.
func TestAnalyzeReportHook(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "Qwen/Qwen3-0.6B", 60, false, 8)
	out := filepath.Join(t.TempDir(), "out")
	cmd := analyzeCommand(analyzeHooks{Report: analyzeReport})
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{dir, "--out", out})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, name := range runFigureNames {
		if _, err := os.Stat(filepath.Join(out, "figures", name+".svg")); err != nil {
			t.Error(err)
		}
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "Sure, here it is.") {
		t.Error("the examples have no responses")
	}

	// Seed scoring alone has no report.
	out2 := filepath.Join(t.TempDir(), "seed")
	cmd = analyzeCommand(analyzeHooks{Report: analyzeReport})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{dir, "--out", out2, "--scoring", "seed"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out2, "report.html")); err == nil {
		t.Error("seed scoring wrote a report")
	}
}
