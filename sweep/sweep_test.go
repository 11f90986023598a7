package sweep

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
)

// handRun writes a small run directory by hand: the deepconf policy
// (warm-up 2, budget 4, window 2) recorded in run.json, and three instances
// whose stored traces have 4 tokens each, with the seeds the policy derives:
//
//	h0 harmful  4 traces: refusal, refusal, compliance, compliance
//	b1 benign   4 traces: compliance ×4
//	h2 harmful  2 traces: compliance (its text is a refusal phrase the run's
//	            detector missed), refusal
//
// plus one orphan trace. The run spent 16, 16 and 8 tokens.
func handRun(t *testing.T) (string, controller.Config) {
	t.Helper()
	dir := t.TempDir()
	cfg := controller.Default(controller.PolicyDeepConf)
	cfg.Warmup, cfg.Budget, cfg.Window, cfg.MinTokens, cfg.MinVoters = 2, 4, 2, 2, 2
	raw, _ := json.Marshal(cfg)
	run := record.Run{Tool: "deepconf", Config: record.RunConfig{Policy: raw, Detector: "patterns"}}
	b, _ := json.Marshal(run)
	if err := os.WriteFile(filepath.Join(dir, record.RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	type inst struct {
		id, gold string
		labels   []string
		texts    []string
	}
	insts := []inst{
		{"h0", "harmful", []string{"refusal", "refusal", "compliance", "compliance"}, []string{"I cannot help with that.", "I won't.", "Sure.", "Here."}},
		{"b1", "benign", []string{"compliance", "compliance", "compliance", "compliance"}, []string{"Sure.", "Sure.", "Sure.", "Sure."}},
		{"h2", "harmful", []string{"compliance", "refusal"}, []string{"I cannot do that.", "No."}},
	}
	var preds, traces bytes.Buffer
	penc, tenc := json.NewEncoder(&preds), json.NewEncoder(&traces)
	for i, in := range insts {
		p := record.Prediction{InstanceID: in.id, Index: i, Prompt: "prompt " + in.id, GoldLabel: in.gold, Policy: "deepconf",
			Behaviour: "compliance", TracesGenerated: len(in.labels), TokensGenerated: 4 * len(in.labels), NumTracesUsed: len(in.labels)}
		if err := penc.Encode(p); err != nil {
			t.Fatal(err)
		}
		for k, l := range in.labels {
			tr := record.Trace{InstanceID: in.id, Index: k, Seed: controller.TraceSeed(cfg.Sampling.Seed, in.id, k), Phase: record.PhaseFixed,
				Text: in.texts[k], Tokens: 4, Finish: record.FinishStop, Label: l,
				TokenConfidences: []float32{10, 11, 12, 13}, TokenLogprobs: []float32{-0.1, -0.2, -0.3, -0.4}}
			if err := tenc.Encode(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	tenc.Encode(record.Trace{InstanceID: "orphan", TokenConfidences: []float32{1}, TokenLogprobs: []float32{0}})
	if err := os.WriteFile(filepath.Join(dir, record.PredictionsFile), preds.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, record.TracesFile), traces.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, cfg
}

func loadHand(t *testing.T, o LoadOptions) *Pool {
	t.Helper()
	dir, _ := handRun(t)
	d, err := analysis.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadHandRun(t *testing.T) {
	p := loadHand(t, LoadOptions{})
	if !p.ConfigFromRun || p.Config.Warmup != 2 || p.Config.Window != 2 || p.Detector != "patterns" || p.Orphans != 1 {
		t.Fatalf("pool: from run %v, %+v, detector %q, orphans %d", p.ConfigFromRun, p.Config, p.Detector, p.Orphans)
	}
	if len(p.Instances) != 3 || len(p.Instances[0].Traces) != 4 || len(p.Instances[2].Traces) != 2 || p.Instances[2].Gold != "harmful" {
		t.Fatalf("instances %+v", p.Instances)
	}
	tr := p.Instances[0].Traces[1]
	if tr.Text != "" || tr.Label != "refusal" || len(tr.TokenLogprobs) != 4 || tr.TokenLogprobs[0] != 0 || tr.TokenConfidences[3] != 13 {
		t.Errorf("trace without texts and log-probabilities: %+v", tr)
	}
	if got := p.CommonTraces(); got != 2 {
		t.Errorf("common traces %d, want 2 (h2 stored two)", got)
	}
	p = loadHand(t, LoadOptions{Texts: true, Logprobs: true})
	tr = p.Instances[0].Traces[1]
	if tr.Text != "I won't." || tr.TokenLogprobs[1] != -0.2 {
		t.Errorf("trace with texts and log-probabilities: %+v", tr)
	}
}

// TestSweepHandRun replays hand-checkable settings. Refusal scoring, harmful
// = positive, refusal = predicted positive:
//
//	single (trace 0 alone): h0 refusal (TP), b1 compliance (TN), h2
//	  compliance (FN): accuracy 2/3, sensitivity 1/2, specificity 1,
//	  unsafe compliance FN/(FN+TN) = 1/2; 3 traces, 12 tokens; the run spent
//	  40 → savings 1 − 12/40 = 0.7.
//	single, detector patterns:seed: h2's trace 0 "I cannot do that." is a
//	  refusal → TP: accuracy 1, sensitivity 1.
//	fixed 4: h2 stored only two traces → not replayed (1 of 3); h0's 2–2 tie
//	  goes to the first-seen label, refusal (TP); b1 TN: accuracy 1 over 2;
//	  32 tokens against the run's 32 → savings 0.
//	deepconf with warm-up 4 > budget 2: invalid, not replayed.
func TestSweepHandRun(t *testing.T) {
	p := loadHand(t, LoadOptions{Detectors: []string{"patterns:seed"}})
	single := Setting{Config: p.Config, Detector: StoredLabels}
	single.Config.Policy = controller.PolicySingle
	relabelled := single
	relabelled.Detector = "patterns:seed"
	fixed := Setting{Config: p.Config, Detector: StoredLabels}
	fixed.Config.Policy, fixed.Config.Traces = controller.PolicyFixed, 4
	ss, err := Grid{Warmup: []int{4}, Budget: []int{2}}.Settings(p.Config)
	if err != nil || ss[0].Err == nil {
		t.Fatalf("invalid setting: %v %v", ss, err)
	}
	res, err := p.Sweep(context.Background(), []Setting{single, relabelled, fixed, ss[0]}, Options{Outcomes: true})
	if err != nil {
		t.Fatal(err)
	}
	s, r, f, inv := res[0], res[1], res[2], res[3]
	m := s.Metrics
	if s.Replayed != 3 || m.Confusion != (analysis.Confusion{TP: 1, FN: 1, TN: 1}) || m.Correct.K != 2 || m.Correct.N != 3 ||
		m.RefusalRateHarmful.Rate != 0.5 || m.Specificity != 1 || m.UnsafeComplianceRate.Rate != 0.5 {
		t.Errorf("single: %+v", s)
	}
	if s.TracesStarted != 3 || s.Tokens != 12 || s.RunTokens != 40 || s.Savings != 0.7 || s.AvgTraces != 1 || s.EarlyStoppedShare != 0 {
		t.Errorf("single cost: %+v", s)
	}
	if len(s.Outcomes) != 3 || s.Outcomes[2] != (analysis.ReplayOutcome{InstanceID: "h2", Behaviour: "compliance", Traces: 1, Tokens: 4}) {
		t.Errorf("single outcomes %+v", s.Outcomes)
	}
	if r.Metrics.Confusion != (analysis.Confusion{TP: 2, TN: 1}) || r.Metrics.Correct.Rate != 1 {
		t.Errorf("relabelled single: %+v", r.Metrics)
	}
	if f.Replayed != 2 || f.NotReplayed != 1 || !strings.Contains(f.NotReplayedReason, "replay h2: trace 2 was never sampled") ||
		f.Metrics.Confusion != (analysis.Confusion{TP: 1, TN: 1}) || f.Tokens != 32 || f.RunTokens != 32 || f.Savings != 0 {
		t.Errorf("fixed 4: %+v", f)
	}
	if inv.Replayed != 0 || inv.NotReplayed != 3 || !strings.HasPrefix(inv.NotReplayedReason, "invalid setting: ") || inv.Metrics.Correct.Rate.Defined() {
		t.Errorf("invalid: %+v", inv)
	}

	// The outputs: text table with the not-replayed notes, CSV, JSON, Markdown.
	var text bytes.Buffer
	if err := WriteText(&text, p, res); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"replayed", "3/3", "2/3", "0/3", "0.667 [0.208, 0.939]", "0.700", "Row 3: 1 of 3 instances could not be replayed", "Row 4: 3 of 3", "patterns:seed", "1 stored traces belong to no prediction"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, text.String())
		}
	}
	dir := t.TempDir()
	for _, ext := range []string{"csv", "json", "md"} {
		if err := WriteFile(filepath.Join(dir, "sweep."+ext), p, res); err != nil {
			t.Fatal(err)
		}
	}
	fh, _ := os.Open(filepath.Join(dir, "sweep.csv"))
	recs, err := csv.NewReader(fh).ReadAll()
	fh.Close()
	if err != nil || len(recs) != 5 || len(recs[0]) != len(csvHeader()) || recs[1][0] != "single" || recs[3][16] != "1" || recs[4][18] != "NaN" {
		t.Errorf("csv: %v %v", recs, err)
	}
	var js struct {
		BaseFromRun bool
		Results     []map[string]any `json:"results"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "sweep.json"))
	if err := json.Unmarshal(b, &js); err != nil || len(js.Results) != 4 || js.Results[0]["accuracy"].(float64) != 2.0/3 || js.Results[3]["accuracy"] != nil {
		t.Errorf("json: %s %v", b, err)
	}
	if err := WriteFile(filepath.Join(dir, "sweep.txt"), p, res); err == nil {
		t.Error(".txt accepted")
	}
	if _, err := p.Sweep(context.Background(), []Setting{{Config: p.Config, Detector: "patterns"}}, Options{}); err == nil {
		t.Error("a detector that was not loaded was accepted")
	}
}

func TestBaselinesHandRun(t *testing.T) {
	dir, _ := handRun(t)
	d, err := analysis.Load(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	rps, err := Baselines(BaselineOptions{})(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rp := range rps {
		names = append(names, rp.Name)
	}
	// N = 2: every instance stored two complete traces. The run's own
	// policy needs h0's and b1's traces 0–1 (warm-up, unanimous or not)
	// and more for h0, which h2 cannot give past its two.
	if got := strings.Join(names, "|"); !strings.HasPrefix(got, "single|fixed-2-majority|offline-2-weighted|offline-2-top10|online") {
		t.Fatalf("baselines %s", got)
	}
	fixed := rps[1]
	if len(fixed.Outcomes) != 3 || fixed.Outcomes[0].Behaviour != "refusal" || fixed.Outcomes[2].Behaviour != "compliance" || fixed.Outcomes[0].Tokens != 8 {
		t.Errorf("fixed-2: %+v", fixed.Outcomes)
	}
	// With N = 4 forced, h2 cannot be replayed, and the row says so.
	rps, err = Baselines(BaselineOptions{Traces: 4})(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if rps[1].Name != "fixed-4-majority [1/3 not replayed]" || len(rps[1].Outcomes) != 2 || !strings.Contains(rps[1].Description, "1 of 3 instances could not be replayed") {
		t.Errorf("fixed-4: %q %q %d", rps[1].Name, rps[1].Description, len(rps[1].Outcomes))
	}
	// Scored by analysis like the run.
	r, err := analysis.Analyze(context.Background(), d, analysis.Options{Baselines: Baselines(BaselineOptions{})})
	if err != nil || len(r.Baselines) != 5 || r.Baselines[0].Correct.N != 3 {
		t.Errorf("analysis baselines: %+v, %v", r.Baselines, err)
	}
	// No traces.jsonl (a prototype run): no baselines, no error.
	os.Remove(filepath.Join(dir, record.TracesFile))
	d, _ = analysis.Load(context.Background(), dir)
	if rps, err := Baselines(BaselineOptions{})(context.Background(), d); err != nil || rps != nil {
		t.Errorf("without traces: %v %v", rps, err)
	}
	if _, err := Load(context.Background(), d, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "no traces.jsonl") {
		t.Errorf("Load without traces: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir, _ := handRun(t)
	tp := filepath.Join(dir, record.TracesFile)
	b, _ := os.ReadFile(tp)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	write := func(ls []string) *analysis.RunData {
		os.WriteFile(tp, []byte(strings.Join(ls, "\n")+"\n"), 0o644)
		d, err := analysis.Load(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// A duplicated trace names both lines.
	d := write(append([]string{lines[0]}, lines...))
	if _, err := Load(context.Background(), d, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "traces.jsonl:2: field index: trace 0 of h0 already on line 1") {
		t.Errorf("duplicate: %v", err)
	}
	// A malformed line far into the file names its line (several chunks
	// of blank lines before it).
	bad := append(append([]string{}, lines...), strings.Repeat("\n", 3), `{"instance_id":"h0","index":9,"token_confidences":[1,"x"]}`)
	d = write(bad)
	if _, err := Load(context.Background(), d, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "traces.jsonl:16: field token_confidences") {
		t.Errorf("malformed: %v", err)
	}
	d = write(lines)
	if _, err := Load(context.Background(), d, LoadOptions{Detectors: []string{"judge:x"}}); err == nil || !strings.Contains(err.Error(), "rule-based") {
		t.Errorf("judge detector: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Load(ctx, d, LoadOptions{}); err == nil {
		t.Error("cancelled load succeeded")
	}
}

// TestSweepSynthetic replays a grid on a small generated run (analysis'
// synthetic generator with the policy's trace seeds): results do not depend
// on the number of workers, a stricter threshold (higher percentile) never
// costs more when the consensus stop is off, and the base configuration
// (every trace complete, no early stop) costs exactly what the run did.
func TestSweepSynthetic(t *testing.T) {
	dir := t.TempDir()
	cfg := controller.Default(controller.PolicyDeepConf)
	cfg.Budget, cfg.Window, cfg.MinTokens, cfg.EarlyStop, cfg.MinVoters = 6, 8, 8, false, 6
	raw, _ := json.Marshal(cfg)
	err := analysis.WriteSyntheticRun(dir, analysis.SyntheticRun{Instances: 80, Traces: 6, Tokens: 40, Policy: raw,
		TraceSeed: func(id string, k int) uint64 { return controller.TraceSeed(cfg.Sampling.Seed, id, k) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := analysis.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Load(ctx, d, LoadOptions{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := Grid{EarlyStop: []bool{false, true}, Percentile: []float64{10, 50, 90}, Window: []int{4, 8}}.Settings(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	one, err := p.Sweep(ctx, ss, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	three, err := p.Sweep(ctx, ss, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(one)
	b, _ := json.Marshal(three)
	if !bytes.Equal(a, b) {
		t.Error("results depend on the number of workers")
	}
	// Order: percentile, window, early stop (the last varies fastest).
	if len(one) != 12 {
		t.Fatalf("%d settings", len(one))
	}
	at := func(pi, wi int, on bool) Result {
		i := pi*4 + wi*2
		if on {
			i++
		}
		return one[i]
	}
	for pi := range 3 {
		for wi := range 2 {
			if r := at(pi, wi, false); r.Tokens != 80*6*40 || r.Savings != 0 || r.EarlyStopped != 0 || r.Setting.Config.EarlyStop {
				t.Errorf("no early stop: %+v", r)
			}
		}
	}
	for wi := range 2 {
		for pi := 1; pi < 3; pi++ {
			lo, hi := at(pi-1, wi, true), at(pi, wi, true)
			if hi.Tokens > lo.Tokens || hi.EarlyStopped < lo.EarlyStopped {
				t.Errorf("p%v costs more than p%v: %d vs %d tokens", hi.Setting.Percentile(), lo.Setting.Percentile(), hi.Tokens, lo.Tokens)
			}
		}
		if !(at(2, wi, true).Tokens < at(0, wi, true).Tokens) {
			t.Errorf("window %d: p90 saves nothing over p10", at(0, wi, true).Setting.Config.Window)
		}
	}
}
