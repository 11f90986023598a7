package controller

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// These tests drive the stop rules through Replay on stored traces built
// here (Replay runs the same policy code as Run; their agreement is tested
// on the real engine in engine_test.go).

var ruleInst = benchmark.Instance{ID: "rule_0", Prompt: "p", Label: benchmark.Benign}

// stored builds a complete stored trace of ruleInst: index i, the given
// token confidences, finished by itself with label.
func stored(cfg Config, i int, confs []float64, label string) record.Trace {
	c32 := make([]float32, len(confs))
	for j, c := range confs {
		c32[j] = float32(c)
	}
	return record.Trace{
		InstanceID: ruleInst.ID, Index: i, Seed: TraceSeed(cfg.Sampling.Seed, ruleInst.ID, i), Phase: record.PhaseFixed,
		Text: label, Tokens: len(confs), Finish: record.FinishStop, Label: label,
		TokenConfidences: c32, TokenLogprobs: make([]float32, len(confs)),
	}
}

func ruleConfig(rule string) Config {
	c := Default(PolicyDeepConf)
	c.StopRule = rule
	c.Window, c.MinTokens = 4, 4
	c.Warmup, c.Budget, c.MinVoters = 4, 8, 8 // no consensus: every trace is judged
	return c
}

func TestHeadRuleJudgesEveryTraceOnceOnItsHead(t *testing.T) {
	cfg := ruleConfig(StopHead)
	// Warm-up heads (first 4 tokens) 10, 11, 12, 13; after the head the
	// warm-up traces dip to 2, which the head rule ignores.
	var pool []record.Trace
	for i, h := range []float64{10, 11, 12, 13} {
		pool = append(pool, stored(cfg, i, append(flat(4, h), flat(6, 2)...), "compliance"))
	}
	bound, err := confidence.PredictionBound([]float64{10, 11, 12, 13}, cfg.Keep)
	if err != nil {
		t.Fatal(err)
	}
	// bound = 11.5 − 1.6377·1.291·1.118 ≈ 9.136.
	adaptive := []struct {
		confs   []float64
		finish  string
		used    bool
		tokens  int
		explain string
	}{
		{append(flat(4, 9), flat(20, 15)...), record.FinishEarlyStop, false, 4, "head 9 < bound: stopped after its head"},
		{append(flat(4, 9.5), flat(20, 1)...), record.FinishStop, true, 24, "head 9.5 ≥ bound, later dip ignored"},
		{flat(2, 5), record.FinishStop, false, 2, "2 tokens at 5 < the 2-token bound: discarded at its end"},
		{flat(3, 11), record.FinishStop, true, 3, "3 tokens at 11 ≥ the 3-token bound: votes"},
	}
	for k, a := range adaptive {
		pool = append(pool, stored(cfg, 4+k, a.confs, "refusal"))
	}
	out, err := Replay(cfg, ruleInst, pool)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Prediction.Threshold; got == nil || math.Abs(*got-bound) > 1e-12 {
		t.Fatalf("threshold %v, want %v", got, bound)
	}
	for k, a := range adaptive {
		tr := out.Traces[4+k]
		if tr.Finish != a.finish || tr.Used != a.used || tr.Tokens != a.tokens {
			t.Errorf("adaptive trace %d (%s): finish %s used %v tokens %d; want %s %v %d", k, a.explain, tr.Finish, tr.Used, tr.Tokens, a.finish, a.used, a.tokens)
		}
	}
	p := out.Prediction
	if p.EarlyStopped != 1 || p.Discarded != 1 || p.NumTracesUsed != 6 {
		t.Errorf("early stopped %d, discarded %d, used %d; want 1, 1, 6", p.EarlyStopped, p.Discarded, p.NumTracesUsed)
	}
	// The discarded short trace keeps its label (it finished), the stopped
	// one has none.
	if out.Traces[6].Label != "refusal" || out.Traces[4].Label != "" {
		t.Errorf("labels %q, %q", out.Traces[6].Label, out.Traces[4].Label)
	}
	// The 2-token bound is computed from the warm-up traces' 2-token heads.
	b2, _ := confidence.PredictionBound([]float64{10, 11, 12, 13}, cfg.Keep)
	if !(5 < b2) {
		t.Fatalf("test premise: 2-token bound %v", b2)
	}
}

func TestPaperRuleThresholdComesFromTheLowestGroupWhateverTheMetric(t *testing.T) {
	for _, m := range []string{MetricMean, MetricTail, MetricBottom, MetricLowestGroup} {
		cfg := ruleConfig(StopPaper)
		cfg.Quantile, cfg.Metric = QuantileLinear, m
		cfg.Warmup, cfg.Budget, cfg.MinVoters = 2, 3, 3
		// Lowest groups 10 and 12 (means 15 and 17): s = p10 = 10.2 from
		// the lowest groups, whatever the vote metric.
		pool := []record.Trace{
			stored(cfg, 0, append(flat(4, 20), flat(4, 10)...), "compliance"),
			stored(cfg, 1, append(flat(4, 22), flat(4, 12)...), "compliance"),
			stored(cfg, 2, append(flat(4, 11), flat(10, 9)...), "compliance"),
		}
		out, err := Replay(cfg, ruleInst, pool)
		if err != nil {
			t.Fatal(err)
		}
		if got := *out.Prediction.Threshold; math.Abs(got-10.2) > 1e-12 {
			t.Errorf("metric %s: threshold %v, want 10.2", m, got)
		}
		if tr := out.Traces[2]; tr.Finish != record.FinishEarlyStop || tr.Tokens != 6 {
			t.Errorf("metric %s: trace 2 %s after %d tokens, want early-stopped after 6", m, tr.Finish, tr.Tokens)
		}
	}
}

func TestPositionRuleComparesWithTheSamePosition(t *testing.T) {
	cfg := ruleConfig(StopPosition)
	cfg.Quantile = QuantileLinear
	cfg.Warmup, cfg.Budget, cfg.MinVoters = 2, 3, 3
	// Warm-up running lowest groups (W = 4): trace 0 flat 10 then 6 from
	// token 7; trace 1 flat 12. At t = 8: lowest groups 8 (window
	// 10,10,6,6) and 12 → s(8) = 8.4; at t = 4: 10 and 12 → s(4) = 10.2.
	pool := []record.Trace{
		stored(cfg, 0, append(flat(6, 10), flat(6, 6)...), "compliance"),
		stored(cfg, 1, flat(12, 12), "compliance"),
		// Adaptive: 10.1 (≥ s(4) = 10.2? no: below → stopped at t = 4).
		stored(cfg, 2, flat(12, 10.1), "compliance"),
	}
	out, err := Replay(cfg, ruleInst, pool)
	if err != nil {
		t.Fatal(err)
	}
	if tr := out.Traces[2]; tr.Finish != record.FinishEarlyStop || tr.Tokens != 4 {
		t.Errorf("trace 2: %s after %d tokens, want early-stopped after 4", tr.Finish, tr.Tokens)
	}
	// A trace at 9 from token 7 on: running lowest 10.5 at t = 8 (window
	// 11,11,9,9 → 10) against s(8) = 8.4 → kept; the paper's constant
	// s = p10 of (6, 12) = 6.6 would keep it too, a flat 8 trace is
	// stopped by position (8 < s(4) = 10.2) at t = 4.
	pool[2] = stored(cfg, 2, append(flat(6, 11), flat(6, 9)...), "compliance")
	out, err = Replay(cfg, ruleInst, pool)
	if err != nil {
		t.Fatal(err)
	}
	if tr := out.Traces[2]; tr.Finish != record.FinishStop || !tr.Used {
		t.Errorf("trace 2: %s, used %v; want a finished voter", tr.Finish, tr.Used)
	}
}

func TestStopRuleValidation(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"unknown rule", func(c *Config) { c.StopRule = "nope" }, "stop_rule"},
		{"unknown quantile", func(c *Config) { c.Quantile = "nope" }, "quantile"},
		{"post-hoc with head", func(c *Config) { c.PostHoc = true }, "post_hoc_filter true: only with the paper stop rule"},
		{"normal with one warm-up", func(c *Config) { c.Warmup = 1 }, "at least 2 warm-up traces"},
		{"seed with post-hoc", func(c *Config) { c.Policy, c.PostHoc = PolicyPrototype, true }, "not part of the prototype policy"},
	}
	for _, tc := range tests {
		c := Default(PolicyDeepConf)
		tc.mod(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	c := Default(PolicyDeepConf)
	c.StopRule, c.PostHoc = StopPaper, true
	if err := c.Validate(); err != nil {
		t.Errorf("paper rule with post-hoc filter: %v", err)
	}
}

func TestConfigWithoutStopRuleIsThePaperRule(t *testing.T) {
	c := Default(PolicyDeepConf)
	if err := json.Unmarshal([]byte(`{"policy":"deepconf","window":8}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.StopRule != StopPaper || c.Quantile != QuantileLinear || c.Window != 8 || c.Keep != 0.9 {
		t.Errorf("legacy config decoded as rule %q quantile %q window %d keep %v", c.StopRule, c.Quantile, c.Window, c.Keep)
	}
	b, err := json.Marshal(Default(PolicyDeepConf))
	if err != nil {
		t.Fatal(err)
	}
	var back Config
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != Default(PolicyDeepConf) {
		t.Errorf("round trip: %+v", back)
	}
}

func TestPrototypePolicyKeepsThePrototypesCategory(t *testing.T) {
	cfg := Default(PolicyPrototype)
	cfg.EarlyStop = false
	var pool []record.Trace
	for i := range cfg.PrototypeMaxTraces {
		tr := stored(cfg, i, flat(5, 10), "compliance")
		for j := range tr.TokenLogprobs {
			tr.TokenLogprobs[j] = -0.2 // NLL 0.2 < 0.3: uncertain compliance
		}
		pool = append(pool, tr)
	}
	out, err := Replay(cfg, ruleInst, pool)
	if err != nil {
		t.Fatal(err)
	}
	if p := out.Prediction; p.ConfidenceCategory != "uncertain_compliance" || p.PrototypeConfidenceCategory != "uncertain_compliance" {
		t.Errorf("categories %q / %q", p.ConfidenceCategory, p.PrototypeConfidenceCategory)
	}
}

// TestHeadRuleIsLengthFairUnderTheNull replays many instances whose traces
// follow a latent-certainty model (trace level + independent token noise)
// and whose lengths have nothing to do with their confidences: the share
// of adaptive traces the head rule removes is 1 − η for short and long
// traces alike, while the paper's rule removes far more long traces than
// short ones and, with numpy's percentile of 4 warm-up values, far more
// than 1 − η overall. (The full-size version is deepconf simulate; see
// VALIDATION.md.)
func TestHeadRuleIsLengthFairUnderTheNull(t *testing.T) {
	const instances = 1500
	type rates struct{ short, long, shortN, longN int }
	measure := func(cfg Config) rates {
		rng := rand.New(rand.NewPCG(13, 14))
		var r rates
		for range instances {
			mu := 14 + 1.5*rng.NormFloat64()
			var pool []record.Trace
			lengths := make([]int, cfg.Budget)
			for i := range cfg.Budget {
				n := 8 + rng.IntN(40) // short
				if rng.IntN(2) == 0 {
					n = 192 + rng.IntN(64) // long
				}
				lengths[i] = n
				level := mu + 0.8*rng.NormFloat64()
				confs := make([]float64, n)
				for j := range confs {
					confs[j] = level + 2*rng.NormFloat64()
				}
				pool = append(pool, stored(cfg, i, confs, "compliance"))
			}
			out, err := Replay(cfg, ruleInst, pool)
			if err != nil {
				t.Fatal(err)
			}
			for i, tr := range out.Traces[cfg.Warmup:] {
				killed := tr.Finish == record.FinishEarlyStop || !tr.Used
				if lengths[cfg.Warmup+i] <= 64 {
					r.shortN++
					if killed {
						r.short++
					}
				} else {
					r.longN++
					if killed {
						r.long++
					}
				}
			}
		}
		return r
	}
	rate := func(k, n int) float64 { return float64(k) / float64(n) }
	head := ruleConfig(StopHead)
	head.Window, head.MinTokens = 16, 16
	h := measure(head)
	hs, hl := rate(h.short, h.shortN), rate(h.long, h.longN)
	// ~7,500 traces per group: MC SE ≈ 0.0035.
	if math.Abs(hs-0.1) > 0.02 || math.Abs(hl-0.1) > 0.02 || math.Abs(hs-hl) > 0.03 {
		t.Errorf("head rule: removed %.3f of short and %.3f of long adaptive traces; want 0.1 each", hs, hl)
	}
	paper := head
	paper.StopRule, paper.Quantile, paper.Metric = StopPaper, QuantileLinear, MetricLowestGroup
	p := measure(paper)
	ps, pl := rate(p.short, p.shortN), rate(p.long, p.longN)
	if !(pl-ps > 0.1) || !(rate(p.short+p.long, p.shortN+p.longN) > 0.15) {
		t.Errorf("paper rule: removed %.3f of short and %.3f of long traces; expected a strong length bias and more than 1 − η overall", ps, pl)
	}
	t.Logf("head: short %.3f long %.3f; paper: short %.3f long %.3f", hs, hl, ps, pl)
}

func TestPaperPostHocFilterUsesTheLowestGroup(t *testing.T) {
	cfg := ruleConfig(StopPaper)
	cfg.Quantile, cfg.Metric, cfg.PostHoc = QuantileLinear, MetricMean, true
	cfg.Warmup, cfg.Budget, cfg.MinVoters, cfg.MinTokens = 2, 3, 3, 4
	// Warm-up lowest groups 10 and 12 (means 15 and 17, the vote metric)
	// → s = 10.2 from the lowest groups. Trace 2 is shorter than the
	// window, so the online stop never sees it; its lowest group (its
	// mean, 9) is below s → the filter discards it at its end.
	pool := []record.Trace{
		stored(cfg, 0, append(flat(4, 20), flat(4, 10)...), "compliance"),
		stored(cfg, 1, append(flat(4, 22), flat(4, 12)...), "compliance"),
		stored(cfg, 2, flat(3, 9), "refusal"),
	}
	out, err := Replay(cfg, ruleInst, pool)
	if err != nil {
		t.Fatal(err)
	}
	// Warm-up trace 0 (lowest group 10 < s) is filtered too, as the
	// official code excludes warm-up traces below conf_bar.
	if tr := out.Traces[2]; tr.Finish != record.FinishStop || tr.Used || tr.Label != "refusal" || out.Prediction.Discarded != 2 || out.Traces[0].Used {
		t.Errorf("trace 2: %s used %v label %q, discarded %d; want a finished, labelled, discarded trace", tr.Finish, tr.Used, tr.Label, out.Prediction.Discarded)
	}
	// Without the filter the same short trace votes (the paper's online
	// stop cannot see a trace shorter than its window).
	cfg.PostHoc = false
	out, err = Replay(cfg, ruleInst, pool)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Traces[2].Used {
		t.Error("without the post-hoc filter the short trace does not vote")
	}
}

func TestPositionRuleCarriesItsLastThresholdBeyondTheWarmup(t *testing.T) {
	cfg := ruleConfig(StopPosition)
	cfg.Quantile = QuantileLinear
	cfg.Warmup, cfg.Budget, cfg.MinVoters = 2, 3, 3
	// Warm-up traces of 12 tokens at 10 and 12: s(t) = 10.2 up to t = 12,
	// carried beyond. The adaptive trace dips to 9 after 20 tokens at 11:
	// its running lowest group is 10 (< 10.2) at t = 22.
	pool := []record.Trace{
		stored(cfg, 0, flat(12, 10), "compliance"),
		stored(cfg, 1, flat(12, 12), "compliance"),
		stored(cfg, 2, append(flat(20, 11), flat(10, 9)...), "compliance"),
	}
	out, err := Replay(cfg, ruleInst, pool)
	if err != nil {
		t.Fatal(err)
	}
	if tr := out.Traces[2]; tr.Finish != record.FinishEarlyStop || tr.Tokens != 22 {
		t.Errorf("trace 2: %s after %d tokens, want early-stopped after 22", tr.Finish, tr.Tokens)
	}
}

// TestParsePolicy checks the command-line names of the policies: the
// prototype's is "prototype", and "seed", its older name and the value
// run.json stores, still names it.
func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct{ name, want, err string }{
		{"deepconf", PolicyDeepConf, ""},
		{"offline", PolicyOffline, ""},
		{"fixed", PolicyFixed, ""},
		{"single", PolicySingle, ""},
		{"prototype", PolicyPrototype, ""},
		{"seed", PolicyPrototype, ""},
		{"Seed", "", `policy "Seed": want deepconf, offline, fixed, single or prototype`},
		{"", "", `policy "": want deepconf, offline, fixed, single or prototype`},
	} {
		got, err := ParsePolicy(tc.name)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("ParsePolicy(%q) = %q, %v; want error %q", tc.name, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParsePolicy(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
