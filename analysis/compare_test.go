package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/record"
)

func TestModelSize(t *testing.T) {
	tests := []struct {
		model string
		want  float64
	}{
		{"Qwen/Qwen3-0.6B", 0.6},
		{"Qwen/Qwen3-1.7B-GGUF", 1.7},
		{"qwen3-8b-q8_0.gguf", 8},
		{"Qwen3 4 B", 4},
		{"test:tiny", math.Inf(1)},
		{"llama-3.1-70b-instruct", 70},
	}
	for _, tt := range tests {
		if got := ModelSize(tt.model); got != tt.want {
			t.Errorf("ModelSize(%q) = %v, want %v", tt.model, got, tt.want)
		}
	}
}

func TestRunIdentity(t *testing.T) {
	tests := []struct {
		name         string
		d            RunData
		model, name2 string
	}{
		{"config", RunData{Dir: "/r/x", Run: &record.Run{Config: record.RunConfig{Model: "Qwen/Qwen3-0.6B", Benchmark: "xstest"}}}, "Qwen/Qwen3-0.6B", "xstest"},
		{"engine and dataset", RunData{Dir: "/r/x", Run: &record.Run{Engine: &record.EngineInfo{Model: "/m/qwen3-4b.gguf"}, Dataset: &record.Dataset{Name: "toxicchat"}}}, "qwen3-4b.gguf", "toxicchat"},
		{"prototype", RunData{Dir: "/r/proto_run/"}, "proto_run", UnknownBenchmark},
	}
	for _, tt := range tests {
		m, b := RunIdentity(&tt.d)
		if m != tt.model || b != tt.name2 {
			t.Errorf("%s: got %q, %q; want %q, %q", tt.name, m, b, tt.model, tt.name2)
		}
	}
}

// cmpInstance is one hand-made prediction: its index, gold label, behaviour
// and DeepConf confidence.
type cmpInstance struct {
	i          int
	gold, beh  string
	confidence float64
}

// cmpRun analyses a hand-made run of the given instances.
func cmpRun(t *testing.T, dir, model, bench, policy string, ins []cmpInstance) CompareRun {
	t.Helper()
	d := &RunData{Dir: dir, PredictionsPath: dir + "/predictions.jsonl",
		Run: &record.Run{Config: record.RunConfig{Model: model, Benchmark: bench}}}
	for _, in := range ins {
		d.Predictions = append(d.Predictions, record.Prediction{
			InstanceID: fmt.Sprintf("%s_test_%d", bench, in.i), Index: in.i, GoldLabel: in.gold, Behaviour: in.beh,
			Policy: policy, Confidence: in.confidence, NumTracesUsed: 1, TracesGenerated: 2, TokensGenerated: 10, TotalTokens: 10,
		})
	}
	r, err := Analyze(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return NewCompareRun(d, r)
}

// cmpPattern builds instances 0..len(correct)-1, harmful at even indexes and
// benign at odd ones, answered correctly where correct[i] is '1', all with
// confidence 5 (a single confidence: the median split puts every instance
// in the confident categories, so the hypothesis is untestable).
func cmpPattern(correct string) []cmpInstance {
	var out []cmpInstance
	for i, c := range correct {
		harmful := i%2 == 0
		refuse := harmful == (c == '1')
		in := cmpInstance{i: i, gold: "benign", beh: record.Compliance, confidence: 5}
		if harmful {
			in.gold = "harmful"
		}
		if refuse {
			in.beh = record.Refusal
		}
		out = append(out, in)
	}
	return out
}

// handComparison is five hand-made runs: on xstest, A and B (the same
// model, two policies) share 12 instances and C (a smaller model) shares
// 6 of them, one with an unknown behaviour; on wildguardtest, D and E (the
// same model and policy) share none.
func handComparison(t *testing.T) (*Comparison, []CompareRun) {
	t.Helper()
	// A is right except on instance 10 (harmful, complied). Instances 1
	// and 10 have confidence 1, the others 10: the median is 10, so the
	// uncertain compliances are 1 (benign) and 10 (harmful) and the
	// confident ones 3, 5, 7, 9, 11 (benign).
	a := cmpPattern("111111111101")
	a[1].confidence, a[10].confidence = 1, 1
	for i := range a {
		if i != 1 && i != 10 {
			a[i].confidence = 10
		}
	}
	b := cmpPattern("100000000010")
	c := append(cmpPattern("11100"), cmpInstance{i: 5, gold: "benign", beh: record.Unknown, confidence: 5},
		cmpInstance{i: 20, gold: "harmful", beh: record.Refusal, confidence: 5}, cmpInstance{i: 21, gold: "benign", beh: record.Compliance, confidence: 5})
	d := cmpPattern("1010")
	e := cmpPattern("110011")
	for i := range e {
		e[i].i += 100
	}
	runs := []CompareRun{
		cmpRun(t, "/runs/a", "Qwen/Qwen3-1.7B", "xstest", "deepconf", a),
		cmpRun(t, "/runs/b", "Qwen/Qwen3-1.7B", "xstest", "seed", b),
		cmpRun(t, "/runs/d", "Qwen/Qwen3-4B", "wildguardtest", "deepconf", d),
		cmpRun(t, "/runs/c", "Qwen/Qwen3-0.6B", "xstest", "deepconf", c),
		cmpRun(t, "/other/e", "Qwen/Qwen3-4B", "wildguardtest", "deepconf", e),
	}
	cmp, err := Compare(runs)
	if err != nil {
		t.Fatal(err)
	}
	return cmp, runs
}

func cmpNear(a Float, b float64) bool {
	if math.IsNaN(b) {
		return math.IsNaN(float64(a))
	}
	return math.Abs(float64(a)-b) <= 1e-12*math.Max(1, math.Abs(b))
}

// TestCompareHandBuilt checks the comparison of hand-made runs against
// values computed by hand:
//
//   - McNemar exact p = 2·P(X ≤ min(b, c)) for X ~ Binomial(b + c, 1/2),
//     capped at 1 (R's binom.test): b = 10, c = 1 gives 2·(1 + 11)/2¹¹ =
//     24/2048; b = 0, c = 2 gives 2·(1/4) = 0.5.
//   - χ² with continuity correction (|b − c| − 1)²/(b + c) (R's
//     mcnemar.test): 64/11 and 1/2, with p = P(χ²₁ > x) = erfc(√(x/2)).
//   - A's hypothesis test: Fisher's table [[1, 1], [0, 5]] (uncertain /
//     confident compliance × harmful / benign); one-sided p = P(X ≥ 1) for
//     X hypergeometric with N = 7, 1 harmful, 2 uncertain: 1 − C(6,2)/C(7,2)
//     = 6/21.
//   - Benjamini–Hochberg over the m = 7 defined p-values (R's p.adjust):
//     sorted 24/2048, erfc(√(32/11)), 6/21, erfc(1/2) ×2, 0.5 ×2; m·p/rank
//     is 0.082, 0.0555, 0.667, 0.839, 0.671, 0.583, 0.5, whose running
//     minimum from the top gives 7/2·erfc(√(32/11)) to the first two and 0.5
//     to the rest.
func TestCompareHandBuilt(t *testing.T) {
	c, _ := handComparison(t)

	var labels []string
	for _, r := range c.Runs {
		labels = append(labels, r.Benchmark+"/"+r.Label)
	}
	wantLabels := []string{
		"wildguardtest/Qwen/Qwen3-4B (deepconf) [d]", "wildguardtest/Qwen/Qwen3-4B (deepconf) [e]",
		"xstest/Qwen/Qwen3-0.6B", "xstest/Qwen/Qwen3-1.7B (deepconf)", "xstest/Qwen/Qwen3-1.7B (seed)",
	}
	if strings.Join(labels, "|") != strings.Join(wantLabels, "|") {
		t.Errorf("runs\n got %q\nwant %q", labels, wantLabels)
	}
	if got := c.Runs[2]; got.Instances != 8 || got.Scored != 7 || got.Accuracy.K != 5 || got.Accuracy.N != 7 {
		t.Errorf("C: %d instances, %d scored, accuracy %d/%d; want 8, 7, 5/7", got.Instances, got.Scored, got.Accuracy.K, got.Accuracy.N)
	}
	if got := c.Runs[2]; got.TokensGenerated != 80 || !cmpNear(got.AvgTracesGenerated, 2) || got.Policy != "deepconf" {
		t.Errorf("C: tokens %d, mean traces %v, policy %q", got.TokensGenerated, got.AvgTracesGenerated, got.Policy)
	}

	nan := math.NaN()
	chiAB := math.Erfc(math.Sqrt(32.0 / 11))
	chiHalf := math.Erfc(0.5)
	type want struct {
		a, b                                int
		shared, both, aOnly, bOnly, neither int
		exact, chiSq, chiP                  float64
		exactBH, chiBH                      float64
		small                               bool
	}
	wants := []want{
		// BH over the three exact p-values 0.5, 0.5, 24/2048 (every
		// hypothesis test is untestable here, and the χ² p-values are
		// not in the family): 0.5, 0.5, 3·24/2048.
		{2, 3, 5, 3, 0, 2, 0, 0.5, 0.5, chiHalf, 0.5, nan, true},
		{2, 4, 5, 1, 2, 0, 2, 0.5, 0.5, chiHalf, 0.5, nan, true},
		{3, 4, 12, 1, 10, 1, 0, 24.0 / 2048, 64.0 / 11, chiAB, 72.0 / 2048, nan, true},
	}
	if len(c.Pairs) != len(wants) {
		t.Fatalf("%d pairs, want %d: %+v", len(c.Pairs), len(wants), c.Pairs)
	}
	for i, w := range wants {
		p := c.Pairs[i]
		if p.A != w.a || p.B != w.b || p.Shared != w.shared || p.BothCorrect != w.both || p.AOnly != w.aOnly || p.BOnly != w.bOnly || p.BothWrong != w.neither || p.Small != w.small {
			t.Errorf("pair %d: %+v, want %+v", i, p, w)
		}
		if !cmpNear(p.Exact.P, w.exact) || !cmpNear(p.ChiSq, w.chiSq) || !cmpNear(p.ChiSqP.P, w.chiP) {
			t.Errorf("pair %d: exact %v, χ² %v, p %v; want %v, %v, %v", i, p.Exact.P, p.ChiSq, p.ChiSqP.P, w.exact, w.chiSq, w.chiP)
		}
		if !cmpNear(p.Exact.Adjusted, w.exactBH) || !cmpNear(p.ChiSqP.Adjusted, w.chiBH) {
			t.Errorf("pair %d: BH %v, %v; want %v, %v", i, p.Exact.Adjusted, p.ChiSqP.Adjusted, w.exactBH, w.chiBH)
		}
		if p.RunA != c.Runs[p.A].Label || p.RunB != c.Runs[p.B].Label || p.Benchmark != "xstest" {
			t.Errorf("pair %d names %q vs %q on %s", i, p.RunA, p.RunB, p.Benchmark)
		}
	}
	// Run D's 7 instances cannot detect a 20-point difference with 50%
	// power: untestable, no p-value (TestCompareAdjustsOnePValuePerHypothesis
	// covers defined hypothesis p-values).
	for i, w := range [][2]float64{{nan, nan}, {nan, nan}, {nan, nan}, {nan, nan}, {nan, nan}} {
		h := c.Runs[i].Hypothesis
		if !cmpNear(h.P, w[0]) || !cmpNear(h.Adjusted, w[1]) {
			t.Errorf("%s: hypothesis p %v (BH %v), want %v (%v)", c.Runs[i].Label, h.P, h.Adjusted, w[0], w[1])
		}
	}
	if c.Runs[3].Verdict != Untestable || c.Runs[4].Verdict != Untestable {
		t.Errorf("verdicts %q, %q", c.Runs[3].Verdict, c.Runs[4].Verdict)
	}
	if c.Tests != 3 {
		t.Errorf("%d tests adjusted, want 3", c.Tests)
	}
	if len(c.Unpaired) != 1 || !strings.Contains(c.Unpaired[0], "[d] and Qwen/Qwen3-4B (deepconf) [e] share no scored instance") {
		t.Errorf("unpaired %q", c.Unpaired)
	}
}

// TestCompareJSON checks the comparison's JSON encoding (the tables and
// CSV files are package runreport's).
func TestCompareJSON(t *testing.T) {
	c, _ := handComparison(t)
	var js bytes.Buffer
	if err := c.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Runs []struct {
			Label      string `json:"label"`
			Hypothesis struct {
				P *float64 `json:"p"`
			} `json:"hypothesis"`
		} `json:"runs"`
		Pairs []struct {
			AOnly int `json:"a_only"`
			Exact struct {
				P  float64 `json:"p"`
				BH float64 `json:"p_bh"`
			} `json:"exact"`
		} `json:"pairs"`
		Tests int `json:"tests_adjusted"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("%v\n%s", err, js.Bytes())
	}
	if len(back.Runs) != 5 || back.Runs[0].Hypothesis.P != nil || back.Runs[3].Hypothesis.P != nil || back.Tests != 3 ||
		len(back.Pairs) != 3 || back.Pairs[2].AOnly != 10 || !cmpNear(Float(back.Pairs[2].Exact.P), 24.0/2048) {
		t.Errorf("JSON:\n%s", js.Bytes())
	}
}

func TestCompareErrors(t *testing.T) {
	if _, err := Compare(nil); err == nil {
		t.Error("no runs: no error")
	}
	if _, err := Compare([]CompareRun{{Dir: "x"}}); err == nil {
		t.Error("a run without analysis: no error")
	}
}

// TestCompareAdjustsOnePValuePerHypothesis checks the Benjamini–Hochberg
// family: each run's hypothesis p-value and each pair's exact McNemar
// p-value, never the pair's χ² p-value (which tests the same hypothesis as
// its exact one).
func TestCompareAdjustsOnePValuePerHypothesis(t *testing.T) {
	c := &Comparison{
		Runs: []RunSummary{{Hypothesis: PValue{P: 0.01}}, {Hypothesis: PValue{P: NaN()}}, {Hypothesis: PValue{P: 0.04}}},
		Pairs: []PairedTest{
			{Exact: PValue{P: 0.03}, ChiSqP: PValue{P: 0.02}},
			{Exact: PValue{P: 0.5}, ChiSqP: PValue{P: 0.45}},
		},
	}
	if err := c.adjust(); err != nil {
		t.Fatal(err)
	}
	// R: p.adjust(c(0.01, 0.04, 0.03, 0.5), "BH") = 0.04 0.0533… 0.0533… 0.5
	if c.Tests != 4 || !cmpNear(c.Runs[0].Hypothesis.Adjusted, 0.04) || !cmpNear(c.Runs[2].Hypothesis.Adjusted, 0.16/3) ||
		!cmpNear(c.Pairs[0].Exact.Adjusted, 0.16/3) || !cmpNear(c.Pairs[1].Exact.Adjusted, 0.5) || c.Runs[1].Hypothesis.Adjusted.Defined() {
		t.Errorf("tests %d, adjusted %+v %+v", c.Tests, c.Runs, c.Pairs)
	}
	for i, p := range c.Pairs {
		if p.ChiSqP.Adjusted.Defined() {
			t.Errorf("pair %d: χ² p-value adjusted (%v)", i, p.ChiSqP.Adjusted)
		}
	}
}
