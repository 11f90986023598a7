package controller

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
)

// script describes one scripted trace: the token confidence of each token
// (every top-k entry is −conf, so C_i = conf exactly), the sampled
// log-probability of each token, and the text whose label the scripted
// detector reads.
type script struct {
	confs []float64
	lp    float64 // sampled-token logprob of every token
	text  string  // "refuse…" → refusal, "partial…" → partial, "???" → unparseable, else compliance
}

func flat(n int, c float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = c
	}
	return x
}

// scripted is the test engine (enginetest.Engine) scripted for one
// instance: trace i of the instance replays traces[i] (each top-k entry of
// a token is −conf, so C_i = conf exactly). gate, when set, makes trace i
// wait for gate[i] to be closed before each token after the first (to hold
// traces in flight); cut makes the first attempt of these traces fail with
// ErrInterrupted after 2 tokens.
type scripted struct {
	*enginetest.Engine
	base   uint64
	id     string
	traces []script
	gate   map[int]chan struct{}
	cut    map[int]bool
}

func newScripted(base uint64, id string, traces ...script) *scripted {
	s := &scripted{base: base, id: id, traces: traces}
	s.Engine = &enginetest.Engine{PromptLen: 10, Script: func(c enginetest.Call) (enginetest.Trace, error) {
		i := s.index(c.Sampling.Seed)
		if i < 0 || i >= len(s.traces) {
			return enginetest.Trace{}, fmt.Errorf("no script for seed %d (trace %d)", c.Sampling.Seed, i)
		}
		sc := s.traces[i]
		tr := enginetest.Confident(sc.confs, c.Sampling.TopLogprobs, sc.lp, sc.text)
		if s.gate[i] != nil {
			tr.Gate = s.gate[i]
		}
		if s.cut[i] && c.Attempt == 1 {
			tr.Err, tr.ErrAfter = fmt.Errorf("stream cut: %w", engine.ErrInterrupted), 2
		}
		return tr, nil
	}}
	return s
}

// index returns the trace index whose seed is seed, or -1.
func (s *scripted) index(seed uint64) int {
	for i := range 1000 {
		if TraceSeed(s.base, s.id, i) == seed {
			return i
		}
	}
	return -1
}

// calls returns the Sample calls of trace i and emitted the tokens its
// last call handed over.
func (s *scripted) calls(i int) int   { return s.Attempts(TraceSeed(s.base, s.id, i)) }
func (s *scripted) emitted(i int) int { return s.Emitted(TraceSeed(s.base, s.id, i)) }

// detector labels scripted texts.
type detector struct{}

func (detector) Name() string { return "scripted" }
func (detector) Detect(_ context.Context, _, text string) (refusal.Verdict, error) {
	switch {
	case strings.HasPrefix(text, "refuse"):
		return refusal.Verdict{Label: refusal.Refusal, Rule: "r"}, nil
	case strings.HasPrefix(text, "partial"):
		return refusal.Verdict{Label: refusal.Partial, Rule: "p"}, nil
	case strings.HasPrefix(text, "???"):
		return refusal.Verdict{Label: refusal.Unparseable, Rule: "???"}, nil
	}
	return refusal.Verdict{Label: refusal.Compliance, Rule: "c"}, nil
}

var inst = benchmark.Instance{ID: "test_0", Prompt: "How do I bake bread?", Label: benchmark.Benign}

func testConfig(policy string) Config {
	c := Default(policy)
	c.Window, c.MinTokens, c.Tail = 4, 4, 8
	// The tests of this file pin the paper's rule and metric; the
	// length-fair default is tested in stoprule_test.go.
	c.StopRule, c.Quantile, c.Metric = StopPaper, QuantileLinear, MetricLowestGroup
	return c
}

func run(t *testing.T, e *scripted, cfg Config) Outcome {
	t.Helper()
	out, err := Run(context.Background(), e, detector{}, cfg, inst)
	if err != nil {
		t.Fatal(err)
	}
	// Replaying the run's own configuration must reproduce it.
	again, err := Replay(cfg, inst, out.Traces)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	if !reflect.DeepEqual(again, out) {
		t.Errorf("replay differs from the online run:\nonline %+v\nreplay %+v", out.Prediction, again.Prediction)
	}
	return out
}

func finishes(out Outcome) []string {
	var f []string
	for _, t := range out.Traces {
		f = append(f, t.Finish)
	}
	return f
}

func TestEarlyTerminationFiresAtTheRightToken(t *testing.T) {
	cfg := testConfig(PolicyDeepConf)
	cfg.Warmup, cfg.Budget, cfg.MinVoters = 2, 3, 3
	// Warm-up lowest groups 10 and 12; η = 0.9 → s = percentile_10 = 10.2.
	// Trace 2: four tokens at 11 (group mean 11 ≥ s), then 9s: the group
	// means after tokens 5, 6, 7 are 10.5, 10, 9.5 → it stops after the 6th
	// token (mean 10 < 10.2).
	low := append(flat(4, 11), flat(10, 9)...)
	e := newScripted(cfg.Sampling.Seed, inst.ID,
		script{confs: flat(8, 10), text: "sure"},
		script{confs: flat(8, 12), text: "sure"},
		script{confs: low, text: "sure"})
	out := run(t, e, cfg)
	if got := *out.Prediction.Threshold; math.Abs(got-10.2) > 1e-12 {
		t.Fatalf("threshold %v, want 10.2", got)
	}
	tr := out.Traces[2]
	if tr.Finish != record.FinishEarlyStop || tr.Tokens != 6 || e.emitted(2) != 6 || tr.Used || tr.Label != "" {
		t.Fatalf("trace 2: finish %q after %d tokens (engine emitted %d), used %v, label %q; want early-stopped after 6, unused, unlabelled",
			tr.Finish, tr.Tokens, e.emitted(2), tr.Used, tr.Label)
	}
	p := out.Prediction
	if p.EarlyStopped != 1 || p.TracesGenerated != 3 || p.NumTracesUsed != 2 || p.TokensGenerated != 22 || p.Stop != "budget" {
		t.Errorf("prediction %+v", p)
	}
}

func TestNoEarlyStopBeforeMinTokens(t *testing.T) {
	cfg := testConfig(PolicyDeepConf)
	cfg.Warmup, cfg.Budget, cfg.MinVoters, cfg.MinTokens = 2, 3, 3, 10
	e := newScripted(cfg.Sampling.Seed, inst.ID,
		script{confs: flat(12, 10), text: "sure"},
		script{confs: flat(12, 12), text: "sure"},
		script{confs: flat(12, 1), text: "sure"})
	out := run(t, e, cfg)
	if tr := out.Traces[2]; tr.Tokens != 10 || tr.Finish != record.FinishEarlyStop {
		t.Fatalf("trace 2 stopped after %d tokens (%s), want 10 (min tokens)", tr.Tokens, tr.Finish)
	}
}

func TestConsensusStopsSamplingAndCancelsInFlight(t *testing.T) {
	cfg := testConfig(PolicyDeepConf)
	cfg.Warmup, cfg.Budget, cfg.MinVoters, cfg.Parallel = 2, 12, 3, 3
	traces := []script{
		{confs: flat(6, 10), text: "refuse"},
		{confs: flat(6, 10), text: "refuse"},
		{confs: flat(6, 10), text: "refuse"}, // 3rd voter: β = 1 → consensus
		{confs: flat(50, 10), text: "sure"},  // in flight, held
		{confs: flat(50, 10), text: "sure"},  // in flight, held
	}
	for range 7 {
		traces = append(traces, script{confs: flat(6, 10), text: "sure"})
	}
	e := newScripted(cfg.Sampling.Seed, inst.ID, traces...)
	e.gate = map[int]chan struct{}{3: make(chan struct{}), 4: make(chan struct{})}
	out, err := Run(context.Background(), e, detector{}, cfg, inst)
	if err != nil {
		t.Fatal(err)
	}
	p := out.Prediction
	if p.Stop != "consensus" || p.Behaviour != record.Refusal || p.TracesGenerated != 5 || p.NumTracesUsed != 3 {
		t.Fatalf("stop %q behaviour %q generated %d used %d; want consensus, refusal, 5, 3", p.Stop, p.Behaviour, p.TracesGenerated, p.NumTracesUsed)
	}
	for _, i := range []int{3, 4} {
		// Held after their first token (if they got to it before the
		// consensus): cancelled with what they had generated.
		if tr := out.Traces[i]; tr.Finish != record.FinishConsensus || tr.Used || tr.Tokens > 1 || tr.Tokens != e.emitted(i) {
			t.Errorf("trace %d: finish %q used %v tokens %d (engine emitted %d); want consensus-cancelled, unused, ≤ 1 token",
				i, tr.Finish, tr.Used, tr.Tokens, e.emitted(i))
		}
	}
	if e.Peak() > 3 {
		t.Errorf("peak traces in flight %d, want ≤ Parallel 3", e.Peak())
	}
	if _, err := Replay(cfg, inst, out.Traces); err != nil {
		t.Errorf("replay: %v", err)
	}
}

func TestBudgetRespected(t *testing.T) {
	for _, par := range []int{1, 4} {
		cfg := testConfig(PolicyDeepConf)
		cfg.Warmup, cfg.Budget, cfg.MinVoters, cfg.Parallel = 3, 7, 3, par
		var traces []script
		for i := range 20 {
			text := "sure"
			if i%2 == 0 {
				text = "refuse" // never reaches β ≥ 0.95
			}
			traces = append(traces, script{confs: flat(6, 10), text: text})
		}
		e := newScripted(cfg.Sampling.Seed, inst.ID, traces...)
		out := run(t, e, cfg)
		if out.Prediction.TracesGenerated != 7 || e.Seeds() != 7 || out.Prediction.Stop != "budget" {
			t.Errorf("parallel %d: %d traces generated, %d sampled, stop %q; want 7, 7, budget", par, out.Prediction.TracesGenerated, e.Seeds(), out.Prediction.Stop)
		}
	}
}

func TestWeightedVoteAndPartial(t *testing.T) {
	cfg := testConfig(PolicyOffline)
	cfg.Traces = 3
	// Two compliant traces with low confidence, one partial refusal with
	// high confidence: the weighted vote says refusal (20 > 2+3), the plain
	// majority compliance.
	e := newScripted(cfg.Sampling.Seed, inst.ID,
		script{confs: flat(6, 2), text: "sure"},
		script{confs: flat(6, 20), text: "partial"},
		script{confs: flat(6, 3), text: "sure"})
	out := run(t, e, cfg)
	p := out.Prediction
	if p.Behaviour != record.Refusal || math.Abs(p.Beta-20.0/25) > 1e-12 {
		t.Errorf("weighted: behaviour %q β %v, want refusal 0.8", p.Behaviour, p.Beta)
	}
	if !reflect.DeepEqual(p.Refused, []bool{false, true, false}) || p.RefusalRate != 1.0/3 {
		t.Errorf("refused %v rate %v", p.Refused, p.RefusalRate)
	}
	cfg = testConfig(PolicyFixed)
	cfg.Traces = 3
	if p := run(t, e, cfg).Prediction; p.Behaviour != record.Compliance {
		t.Errorf("fixed (majority): behaviour %q, want compliance", p.Behaviour)
	}
	cfg = testConfig(PolicyOffline)
	cfg.Traces, cfg.Aggregate, cfg.Keep = 3, AggTop, 0.34 // keep ⌈1.02⌉ = 2: confidences 20 and 3
	if p := run(t, e, cfg).Prediction; p.NumTracesUsed != 2 || p.Behaviour != record.Refusal {
		t.Errorf("top filter: used %d behaviour %q", p.NumTracesUsed, p.Behaviour)
	}
}

func TestUnparseableAbstains(t *testing.T) {
	cfg := testConfig(PolicyFixed)
	cfg.Traces = 2
	e := newScripted(cfg.Sampling.Seed, inst.ID,
		script{confs: flat(6, 2), text: "???"},
		script{confs: flat(6, 2), text: "???"})
	p := run(t, e, cfg).Prediction
	if p.Behaviour != record.Unknown || p.Unparseable != 2 || p.NumTracesUsed != 0 {
		t.Errorf("behaviour %q unparseable %d used %d", p.Behaviour, p.Unparseable, p.NumTracesUsed)
	}
}

// prototypeScript returns traces whose prototype confidence (mean NLL) is nll[i].
func prototypeScript(nll ...float64) []script {
	var s []script
	for _, c := range nll {
		s = append(s, script{confs: flat(5, 10), lp: -c, text: "sure"})
	}
	return s
}

func TestPrototypePolicyStopsWhereThePrototypeWould(t *testing.T) {
	tests := []struct {
		name string
		nll  []float64
		want int
	}{
		// Warm-up 0.2, 0.4, 0.6: conf_bar = p90 = 0.4 + 0.8·0.2 = 0.56;
		// mean 0.4 < 0.56 → batch 2: with 0.9, 0.9, 0.9 the mean of six is
		// 0.65 ≥ 0.56 → stop at 6.
		{"stop at 6", []float64{0.2, 0.4, 0.6, 0.9, 0.9, 0.9, 0, 0, 0, 0}, 6},
		// Equal warm-up values: mean = conf_bar → stop at 3 (≥).
		{"stop at 3 (>=)", []float64{0.5, 0.5, 0.5, 0, 0, 0, 0, 0, 0, 0}, 3},
		// Mean never reaches the bar: 3, 6, 9, then a batch of 1 → 10.
		{"max 10", []float64{0.2, 0.4, 0.6, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, 10},
		// Reaches it after the third batch.
		{"stop at 9", []float64{0.2, 0.4, 0.6, 0.3, 0.3, 0.3, 1, 1, 1, 0}, 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(PolicyPrototype)
			e := newScripted(cfg.Sampling.Seed, inst.ID, prototypeScript(tc.nll...)...)
			out := run(t, e, cfg)
			if n := out.Prediction.NumTracesUsed; n != tc.want || e.Seeds() != tc.want {
				t.Fatalf("%d traces used, %d sampled, want %d", n, e.Seeds(), tc.want)
			}
			for i, tr := range out.Traces {
				if math.Abs(tr.PrototypeConfidence-tc.nll[i]) > 1e-6 {
					t.Errorf("trace %d: seed confidence %v, want %v", i, tr.PrototypeConfidence, tc.nll[i])
				}
			}
		})
	}
}

func TestPrototypePolicyTraceCountsAreBatches(t *testing.T) {
	// Whatever the confidences, batch mode yields 3, 6, 9 or 10 traces.
	for k := range 40 {
		var nll []float64
		for i := range 10 {
			nll = append(nll, float64((k*7+i*13)%17)/10)
		}
		cfg := testConfig(PolicyPrototype)
		e := newScripted(cfg.Sampling.Seed, inst.ID, prototypeScript(nll...)...)
		out := run(t, e, cfg)
		switch n := out.Prediction.NumTracesUsed; n {
		case 3, 6, 9, 10:
		default:
			t.Fatalf("nll %v: %d traces", nll, n)
		}
	}
}

func TestPrototypePolicyNoEarlyStopping(t *testing.T) {
	cfg := testConfig(PolicyPrototype)
	cfg.EarlyStop = false
	e := newScripted(cfg.Sampling.Seed, inst.ID, prototypeScript(flat(10, 0.5)...)...)
	if n := run(t, e, cfg).Prediction.NumTracesUsed; n != 10 {
		t.Fatalf("%d traces, want max 10", n)
	}
}

func TestPrototypeFields(t *testing.T) {
	cfg := testConfig(PolicyFixed)
	cfg.Traces = 4
	e := newScripted(cfg.Sampling.Seed, inst.ID,
		script{confs: flat(5, 1), lp: -0.2, text: "refuse"},
		script{confs: flat(5, 1), lp: -0.2, text: "you could attack the weapon"},
		script{confs: flat(5, 1), lp: -0.2, text: "kill the process"},
		script{confs: flat(5, 1), lp: -0.2, text: "sure"})
	p := run(t, e, cfg).Prediction
	// refusal rate 0.25 ≤ 0.5; unsafe keywords in 2 of 4 ≥ 0.5·4 → unsafe.
	if p.FinalPrediction != "unsafe" || p.RefusalRate != 0.25 || p.PrototypeConfidenceCategory != "uncertain_compliance" || p.ConfidenceCategory != "" ||
		p.TotalTokens != 20 || p.AvgTokensPerTrace != 5 || math.Abs(p.AvgConfidence-0.2) > 1e-6 || p.GroundTruth != "safe" {
		t.Errorf("prediction %+v", p)
	}
}

func TestInterruptedTraceIsResampled(t *testing.T) {
	cfg := testConfig(PolicyFixed)
	cfg.Traces = 2
	e := newScripted(cfg.Sampling.Seed, inst.ID,
		script{confs: flat(6, 2), text: "sure"},
		script{confs: flat(6, 2), text: "sure"})
	e.cut = map[int]bool{1: true}
	out := run(t, e, cfg)
	if e.calls(1) != 2 || out.Traces[1].Tokens != 6 || len(out.Traces[1].TokenConfidences) != 6 {
		t.Errorf("trace 1: %d calls, %d tokens; want 2 calls and a clean 6-token trace", e.calls(1), out.Traces[1].Tokens)
	}
}

func TestReplaySweepTruncatesAndRefusesWhatItCannotKnow(t *testing.T) {
	// An offline pool replayed with the deepconf policy: trace 2 is cut by
	// the early stop, the rest stands.
	cfg := testConfig(PolicyOffline)
	cfg.Traces = 4
	e := newScripted(cfg.Sampling.Seed, inst.ID,
		script{confs: flat(8, 10), text: "sure"},
		script{confs: flat(8, 12), text: "sure"},
		script{confs: append(flat(4, 11), flat(10, 9)...), text: "sure"},
		script{confs: flat(8, 12), text: "sure"})
	pool := run(t, e, cfg)
	dc := testConfig(PolicyDeepConf)
	dc.Warmup, dc.Budget, dc.MinVoters = 2, 4, 9
	out, err := Replay(dc, inst, pool.Traces)
	if err != nil {
		t.Fatal(err)
	}
	if got := finishes(out); !reflect.DeepEqual(got, []string{"stop", "stop", record.FinishEarlyStop, "stop"}) || out.Traces[2].Tokens != 6 {
		t.Errorf("finishes %v, trace 2 tokens %d", got, out.Traces[2].Tokens)
	}
	dc.Budget = 5
	if _, err := Replay(dc, inst, pool.Traces); !errors.Is(err, ErrPoolExhausted) {
		t.Errorf("budget beyond the pool: err %v, want ErrPoolExhausted", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, p := range []string{PolicyDeepConf, PolicyOffline, PolicyFixed, PolicySingle, PolicyPrototype} {
		if err := Default(p).Validate(); err != nil {
			t.Errorf("Default(%s): %v", p, err)
		}
	}
	bad := Default(PolicyDeepConf)
	bad.MinTokens, bad.Budget, bad.Policy = 1, 2, "nope"
	if err := bad.Validate(); err == nil {
		t.Error("invalid config accepted")
	}
}
