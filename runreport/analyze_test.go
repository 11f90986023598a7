package runreport

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
)

// writeRunDir writes a small run directory: four instances, two harmful
// and two benign, each refused once and complied with once.
func writeRunDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for i, p := range []record.Prediction{
		{InstanceID: "a", GoldLabel: "harmful", Behaviour: "compliance", Confidence: 1},
		{InstanceID: "b", GoldLabel: "harmful", Behaviour: "refusal", Confidence: 4},
		{InstanceID: "c", GoldLabel: "benign", Behaviour: "compliance", Confidence: 3},
		{InstanceID: "d", GoldLabel: "benign", Behaviour: "refusal", Confidence: 2},
	} {
		p.Index, p.Policy, p.NumTracesUsed, p.TotalTokens, p.AvgTokensPerTrace = i, "deepconf", 1, 10, 10
		p.TraceConfidences = []float64{p.Confidence}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	if err := os.WriteFile(filepath.Join(dir, record.PredictionsFile), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := record.Run{Tool: "deepconf", RandomModel: true, Config: record.RunConfig{MaxTraces: 4}}
	b, _ := json.Marshal(run)
	if err := os.WriteFile(filepath.Join(dir, record.RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestAnalyzeRun(t *testing.T) {
	dir := writeRunDir(t)
	out := filepath.Join(t.TempDir(), "out")
	oc, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Out: out, Exports: []string{FormatCSV, FormatParquet, FormatMarkdown, FormatLaTeX}})
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := WriteSummary(&stdout, oc); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"WARNING: the model is a generated random-weight test model", "Hypothesis: Uncertain compliance is riskier",
		"Result (", "Overall\n  metric", "Diagnostics"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("summary lacks %q:\n%s", s, stdout.String())
		}
	}
	want := []string{InstancesCSV, InstancesParquet, TablesMarkdown, TablesLaTeX, record.AnalysisFile}
	if len(oc.Written) != len(want) {
		t.Fatalf("wrote %v", oc.Written)
	}
	for i, p := range oc.Written {
		if fi, err := os.Stat(p); p != filepath.Join(out, want[i]) || err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", p, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(out, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Scoring string `json:"scoring"`
		Overall struct {
			Accuracy       float64 `json:"accuracy"`
			BaselineTokens int     `json:"baseline_tokens"`
			MaxTraces      int     `json:"max_traces"`
		} `json:"overall"`
		Split struct {
			Value float64 `json:"value"`
		} `json:"split"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	// Correct: b (harmful refused) and c (benign complied): 2/4. The
	// split of the complied instances (a: 1, c: 3) is their median, 2.
	// Baseline 4 instances · 4 traces · 10 tokens.
	if m.Scoring != "refusal" || m.Overall.Accuracy != 0.5 || m.Split.Value != 2 || m.Overall.MaxTraces != 4 || m.Overall.BaselineTokens != 160 {
		t.Errorf("analysis.json %+v", m)
	}
	if _, err := os.Stat(filepath.Join(dir, "analysis.json")); err == nil {
		t.Error("analysis.json written into the run directory despite Out")
	}
	// The report lands in Out too.
	if oc.Report.HTML != filepath.Join(out, "report.html") || len(oc.Report.FigureDirs) != 1 || oc.Report.FigureDirs[0] != filepath.Join(out, "figures") {
		t.Errorf("report files %+v", oc.Report)
	}
	if _, err := os.Stat(filepath.Join(out, "report.html")); err != nil {
		t.Error(err)
	}
}

// TestAnalyzeRunReport checks the report AnalyzeRun writes: the figures
// and report.html land in Out, with example responses although the
// analysis skips the trace texts; prototype scoring alone has no report.
func TestAnalyzeRunReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "Qwen/Qwen3-0.6B", 60, false, 8, false)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Out: out}); err != nil {
		t.Fatal(err)
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

	out2 := filepath.Join(t.TempDir(), "seed")
	oc, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Out: out2, Scoring: analysis.ScoringPrototype})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out2, "report.html")); err == nil || oc.Report.HTML != "" {
		t.Error("seed scoring wrote a report")
	}
}

// TestAnalyzeExportMatchesReport is the one-table-writer acceptance: the
// tables.md and tables.tex of an analysis are byte for byte the report's
// --markdown and --latex exports of the same run.
func TestAnalyzeExportMatchesReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "Qwen/Qwen3-0.6B", 50, false, 12, true)
	out := t.TempDir()
	if _, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Out: out, NoReport: true, Exports: []string{FormatMarkdown, FormatLaTeX}}); err != nil {
		t.Fatal(err)
	}
	rep, _, err := Report(context.Background(), []string{dir}, ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var md, tex bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteLaTeX(&tex); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{TablesMarkdown: md.Bytes(), TablesLaTeX: tex.Bytes()} {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the report's export:\n%s\nreport:\n%s", name, got, want)
		}
	}
	if !bytes.Contains(md.Bytes(), []byte("### Baselines replayed from the stored traces")) {
		t.Error("the exports lack the replayed baselines")
	}
}

func TestAnalyzeRunPrototype(t *testing.T) {
	fixture := filepath.Join("..", "analysis", "testdata", "seed")
	out := t.TempDir()
	oc, err := AnalyzeRun(context.Background(), fixture, AnalyzeOptions{Scoring: ScoringBoth, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(out, analysis.PrototypeFile))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(fixture, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("analysis_seed.json differs from the prototype's output:\n%s", got)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "analysis.json")); !bytes.Contains(b, []byte(`"scoring": "refusal"`)) {
		t.Error("analysis.json is not the refusal scoring")
	}
	var stdout bytes.Buffer
	if err := WriteSummary(&stdout, oc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "✓ HYPOTHESIS SUPPORTED") || !strings.Contains(stdout.String(), "refusal scoring") {
		t.Errorf("summary:\n%s", stdout.String())
	}

	// Prototype scoring alone writes the prototype's file as analysis.json.
	out2 := t.TempDir()
	if _, err := AnalyzeRun(context.Background(), fixture, AnalyzeOptions{Scoring: analysis.ScoringPrototype, Out: out2}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(out2, "analysis.json")); !bytes.Equal(got, want) {
		t.Errorf("seed analysis.json:\n%s", got)
	}
}

// TestAnalyzeRunGoldLabels analyses a prototype predictions.jsonl (no
// ground truth) with the gold labels of the ToxicChat file of the shared
// benchmark data: rows 0 and 3 are non-toxic, 1, 2 and 4 toxic, so an
// all-'safe' final prediction scores 2/5.
func TestAnalyzeRunGoldLabels(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := range 5 {
		lines = append(lines, `{"instance_id": "toxicchat_test_`+string(rune('0'+i))+`", "traces": ["Sure."], "confidences": [0.5], "refused": [false], `+
			`"final_prediction": "safe", "refusal_rate": 0.0, "avg_confidence": 0.5, "confidence_category": "confident_compliance", `+
			`"num_traces_used": 1, "total_tokens": 4, "tokens_per_trace": [4], "avg_tokens_per_trace": 4.0}`)
	}
	if err := os.WriteFile(filepath.Join(dir, "predictions.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Scoring: analysis.ScoringPrototype}); err == nil || !strings.Contains(err.Error(), "no ground_truth or gold_label") {
		t.Errorf("prototype file without labels: %v", err)
	}
	o := AnalyzeOptions{Scoring: analysis.ScoringPrototype, Benchmark: "toxicchat", Data: shareddata.Dir(t)}
	if _, err := AnalyzeRun(context.Background(), dir, o); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "analysis.json"))
	var m struct {
		Overall struct {
			Accuracy float64 `json:"accuracy"`
		} `json:"overall"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Overall.Accuracy != 0.4 {
		t.Errorf("accuracy %v (%v):\n%s", m.Overall.Accuracy, err, b)
	}
}

func TestAnalyzeRunErrors(t *testing.T) {
	dir := writeRunDir(t)
	for _, tt := range []struct {
		dir  string
		o    AnalyzeOptions
		want string
	}{
		{dir, AnalyzeOptions{Scoring: "nll"}, "scoring"},
		{dir, AnalyzeOptions{Exports: []string{"xlsx"}}, "export format"},
		{dir, AnalyzeOptions{Benchmark: "toxicchat"}, "benchmark and its data"},
		{filepath.Join(dir, "missing"), AnalyzeOptions{}, "run directory"},
		{t.TempDir(), AnalyzeOptions{}, "no predictions.jsonl"},
		{dir, AnalyzeOptions{Analysis: analysis.Options{Level: 2}}, "confidence level"},
	} {
		if _, err := AnalyzeRun(context.Background(), tt.dir, tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.o, err, tt.want)
		}
	}
}

// TestAnalyzeRunReasoning: a run with reasoning records shows the reasoning
// table in the summary, tables.md and report.html; a run without shows it
// nowhere.
func TestAnalyzeRunReasoning(t *testing.T) {
	const title = "Reasoning and answer confidence"
	for _, reasoning := range []bool{false, true} {
		dir := writeRunDir(t)
		var lines bytes.Buffer
		for i, id := range []string{"a", "b", "c", "d"} {
			label := map[bool]string{true: "refusal", false: "compliance"}[i%2 == 1]
			st := confidence.TraceStats{N: 10, Mean: float64(i + 1), LowestGroup: float64(i + 1)}
			tr := record.Trace{InstanceID: id, Tokens: 10, Finish: "stop", Used: true, Label: label, Confidence: st}
			if reasoning {
				r, a := confidence.TraceStats{N: 8, Mean: 2}, confidence.TraceStats{N: 2, Mean: 5}
				tr.ReasoningSpans, tr.ReasoningConfidence, tr.AnswerConfidence = [][2]int{{0, 8}}, &r, &a
			}
			appendJSON(t, &lines, tr)
			if reasoning {
				appendJSON(t, &lines, record.Trace{InstanceID: id, Index: 1, Tokens: 10, Finish: "length", Confidence: st,
					ReasoningSpans: [][2]int{{0, 10}}, ReasoningConfidence: &st, AnswerConfidence: &confidence.TraceStats{Empty: true}, StoppedInReasoning: true})
			}
		}
		writeFile(t, filepath.Join(dir, record.TracesFile), lines.Bytes())
		out := filepath.Join(t.TempDir(), "out")
		oc, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Out: out, Exports: []string{FormatMarkdown}})
		if err != nil {
			t.Fatal(err)
		}
		var stdout bytes.Buffer
		if err := WriteSummary(&stdout, oc); err != nil {
			t.Fatal(err)
		}
		html, err := os.ReadFile(filepath.Join(out, record.ReportFile))
		if err != nil {
			t.Fatal(err)
		}
		md, err := os.ReadFile(filepath.Join(out, TablesMarkdown))
		if err != nil {
			t.Fatal(err)
		}
		for name, text := range map[string]string{"summary": stdout.String(), "report.html": string(html), TablesMarkdown: string(md)} {
			if strings.Contains(text, title) != reasoning {
				t.Errorf("reasoning %v: %s shows the reasoning table: %v", reasoning, name, !reasoning)
			}
		}
		if reasoning && !strings.Contains(stdout.String(), "8 of 8 traces have reasoning records") {
			t.Errorf("summary:\n%s", stdout.String())
		}
	}
}
