package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// reasoningFixture is a run of a reasoning model. Each instance's voting
// traces have the whole-trace, reasoning and answer confidences (metric
// mean) w, rc, ac; n1's traces have no reasoning records (all answer).
// c1–c4 have a third trace that ended inside its reasoning; u1 has only
// two such traces (behaviour unknown).
var reasoningFixture = []struct {
	id, gold, behaviour string
	w, rc, ac           float64
}{
	{"c1", "harmful", "compliance", 2, 1.5, 8},
	{"c2", "harmful", "compliance", 3, 2.5, 9},
	{"c3", "benign", "compliance", 6, 5, 2},
	{"c4", "benign", "compliance", 7, 6, 3},
	{"n1", "benign", "compliance", 5, 0, 5},
	{"r1", "harmful", "refusal", 4, 3, 6},
	{"r2", "harmful", "refusal", 8, 7, 4},
	{"u1", "harmful", "unknown", 0, 0, 0},
}

func writeReasoningFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	run := record.Run{Tool: "deepconf", Config: record.RunConfig{Policy: json.RawMessage(`{"policy":"deepconf","metric":"mean"}`)},
		Engine: &record.EngineInfo{Name: "llama.cpp", ReasoningDelimiters: "<think>,</think>"}}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, record.RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var preds, traces bytes.Buffer
	pe, te := json.NewEncoder(&preds), json.NewEncoder(&traces)
	st := func(n int, mean float64) *confidence.TraceStats {
		return &confidence.TraceStats{N: n, Mean: mean, LowestGroup: mean - 1}
	}
	for i, f := range reasoningFixture {
		p := record.Prediction{InstanceID: f.id, Index: i, GoldLabel: f.gold, Behaviour: f.behaviour, Policy: "deepconf",
			NumTracesUsed: 2, Confidence: f.w, TraceConfidences: []float64{f.w, f.w}}
		if f.id == "u1" {
			p.NumTracesUsed, p.TraceConfidences = 0, nil
		}
		if err := pe.Encode(p); err != nil {
			t.Fatal(err)
		}
		k := 0
		emit := func(tr record.Trace) {
			tr.InstanceID, tr.Index, tr.Tokens = f.id, k, 35
			k++
			if err := te.Encode(tr); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			switch f.id {
			case "u1":
			case "n1":
				emit(record.Trace{Finish: "stop", Used: true, Label: f.behaviour, Confidence: *st(12, f.w)})
			default:
				emit(record.Trace{Finish: "stop", Used: true, Label: f.behaviour, Confidence: *st(35, f.w),
					ReasoningSpans: [][2]int{{0, 30}}, ReasoningConfidence: st(30, f.rc), AnswerConfidence: st(5, f.ac)})
			}
		}
		stopped := map[string]int{"c1": 1, "c2": 1, "c3": 1, "c4": 1, "u1": 2}[f.id]
		for range stopped {
			emit(record.Trace{Finish: "length", Confidence: *st(35, 1), ReasoningSpans: [][2]int{{0, 35}},
				ReasoningConfidence: st(35, 1), AnswerConfidence: &confidence.TraceStats{Empty: true}, StoppedInReasoning: true})
		}
	}
	if err := os.WriteFile(filepath.Join(dir, record.PredictionsFile), preds.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, record.TracesFile), traces.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestReasoningBlock checks the reasoning block against the fixture's
// values, computed by hand in the comments.
func TestReasoningBlock(t *testing.T) {
	dir := writeReasoningFixture(t)
	r, err := AnalyzeDir(context.Background(), dir, Options{Calibration: CalibrationOptions{Skip: true}})
	if err != nil {
		t.Fatal(err)
	}
	rs := r.Reasoning
	if rs == nil {
		t.Fatal("no reasoning block")
	}
	if rs.Delimiters != "<think>,</think>" || rs.Metric != "mean" || rs.MetricFrom != "run.json config.policy.metric" {
		t.Errorf("delimiters %q, metric %q from %q", rs.Delimiters, rs.Metric, rs.MetricFrom)
	}
	// 8 traces of c1–c4 with reasoning and 4 stopped in it; 4 of r1, r2;
	// 2 of n1 without; 2 of u1, both stopped.
	if rs.Traces != 20 || rs.WithReasoning != 18 || rs.StoppedInReasoning != 6 {
		t.Errorf("traces %d, with reasoning %d, stopped %d; want 20, 18, 6", rs.Traces, rs.WithReasoning, rs.StoppedInReasoning)
	}
	type want struct {
		behaviour                     string
		instances, traces, stopped    int
		voting, reasoningVoters       int
		whole, reasoning, answer      float64
		reasoningTokens, answerTokens float64
		undefinedMeans                bool
	}
	wants := []want{
		// whole (2+3+6+7+5)·2/10, reasoning (1.5+2.5+5+6)·2/8, answer
		// (8+9+2+3+5)·2/10; tokens 8·30/10 and (8·5 + 2·12)/10.
		{"compliance", 5, 14, 4, 10, 8, 4.6, 3.75, 5.4, 24, 6.4, false},
		{"refusal", 2, 4, 0, 4, 4, 6, 5, 5, 30, 5, false},
		{"unknown", 1, 2, 2, 0, 0, 0, 0, 0, 0, 0, true},
		// whole (46+24)/14, reasoning (30+20)/12, answer (54+20)/14,
		// tokens 360/14 and 84/14.
		{"all", 8, 20, 6, 14, 12, 70.0 / 14, 50.0 / 12, 74.0 / 14, 360.0 / 14, 6, false},
	}
	order := []string{"refusal", "compliance", "unknown", "all"}
	if len(rs.Behaviours) != len(order) {
		t.Fatalf("%d behaviour rows, want %d", len(rs.Behaviours), len(order))
	}
	for i, b := range rs.Behaviours {
		if b.Behaviour != order[i] {
			t.Errorf("row %d is %q, want %q", i, b.Behaviour, order[i])
		}
	}
	for _, w := range wants {
		var b ReasoningBehaviour
		for _, x := range rs.Behaviours {
			if x.Behaviour == w.behaviour {
				b = x
			}
		}
		if b.Instances != w.instances || b.Traces != w.traces || b.Stopped.K != w.stopped || b.Stopped.N != w.traces ||
			b.VotingTraces != w.voting || b.ReasoningVoters != w.reasoningVoters {
			t.Errorf("%s: %+v", w.behaviour, b)
		}
		if w.undefinedMeans {
			if b.MeanConfidence.Defined() || b.MeanReasoningConfidence.Defined() || b.MeanAnswerConfidence.Defined() {
				t.Errorf("%s: means %v %v %v, want null", w.behaviour, b.MeanConfidence, b.MeanReasoningConfidence, b.MeanAnswerConfidence)
			}
			continue
		}
		for _, c := range []struct {
			name      string
			got, want float64
		}{
			{"whole", float64(b.MeanConfidence), w.whole}, {"reasoning", float64(b.MeanReasoningConfidence), w.reasoning},
			{"answer", float64(b.MeanAnswerConfidence), w.answer}, {"reasoning tokens", float64(b.MeanReasoningTokens), w.reasoningTokens},
			{"answer tokens", float64(b.MeanAnswerTokens), w.answerTokens},
		} {
			if !near(c.got, c.want) {
				t.Errorf("%s: mean %s confidence %v, want %v", w.behaviour, c.name, c.got, c.want)
			}
		}
	}
	// The whole-trace median split of the complied (2, 3, 5, 6, 7 → 5)
	// makes c1, c2 uncertain; the answer split (8, 9, 5, 2, 3 → 5) makes
	// c3, c4 uncertain instead. The refused flip as well (whole 4, 8:
	// median 6; answer 6, 4: median 5).
	as := rs.AnswerSplit
	if as == nil {
		t.Fatal("no answer split")
	}
	if as.Split.Metric != "answer_confidence" || float64(as.Split.Value) != 5 || float64(as.Split.RefusalValue) != 5 {
		t.Errorf("answer split %+v", as.Split)
	}
	if as.Categorised != 7 || as.Changed != 6 || as.ComplianceChanged != 4 {
		t.Errorf("answer split: categorised %d, changed %d, compliance changed %d; want 7, 6, 4", as.Categorised, as.Changed, as.ComplianceChanged)
	}
	// Uncertain compliance under the answer split: c3, c4 (benign): 0 of
	// 2 unsafe; confident: c1, c2, n1: 2 of 3.
	if as.UncertainUnsafe.K != 0 || as.UncertainUnsafe.N != 2 || as.ConfidentUnsafe.K != 2 || as.ConfidentUnsafe.N != 3 {
		t.Errorf("answer split unsafe: uncertain %+v, confident %+v", as.UncertainUnsafe, as.ConfidentUnsafe)
	}
	wantInst := map[string][4]any{
		"c1": {UncertainCompliance, ConfidentCompliance, 1.5, 8.0},
		"n1": {ConfidentCompliance, ConfidentCompliance, nil, 5.0},
		"r2": {ConfidentRefusal, UncertainRefusal, 7.0, 4.0},
		"u1": {"", "", nil, nil},
	}
	for _, in := range rs.Instances {
		w, ok := wantInst[in.ID]
		if !ok {
			continue
		}
		num := func(f Float) any {
			if !f.Defined() {
				return nil
			}
			return float64(f)
		}
		if in.Category != w[0] || in.AnswerCategory != w[1] || num(in.ReasoningConfidence) != w[2] || num(in.AnswerConfidence) != w[3] {
			t.Errorf("instance %s: %+v, want categories %v, %v, reasoning %v, answer %v", in.ID, in, w[0], w[1], w[2], w[3])
		}
	}
	// 6 of 20 traces ended inside their reasoning: above the hint's 10%.
	if h := r.Diagnostics.Hints; len(h) == 0 || !strings.HasPrefix(h[len(h)-1], "6 of 20 traces ended inside their reasoning") ||
		!strings.Contains(h[len(h)-1], "(1 instances have no vote at all)") {
		t.Errorf("hints %q", h)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"reasoning": {`) || !strings.Contains(buf.String(), `"mean_answer_confidence": 5.4`) {
		t.Errorf("analysis.json lacks the reasoning block")
	}
}

// TestNoReasoningBlock: a run without reasoning records has no reasoning
// block, and its analysis.json no "reasoning" key.
func TestNoReasoningBlock(t *testing.T) {
	r, err := AnalyzeDir(context.Background(), writeFixture(t), Options{Calibration: CalibrationOptions{Skip: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Reasoning != nil {
		t.Errorf("reasoning block %+v on a run without reasoning", r.Reasoning)
	}
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), `"reasoning"`) {
		t.Error(`analysis.json has a "reasoning" key`)
	}
}
