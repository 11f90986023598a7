package analysis

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/record"
)

// hypothesisRun analyses complied instances i = 0…n−1 with confidence,
// mean response length and harmfulness given by the functions, plus the
// extra predictions.
func hypothesisRun(t *testing.T, n int, conf, tokens func(int) float64, harmful func(int) bool, o Options, extra ...record.Prediction) *Result {
	t.Helper()
	d := &RunData{Dir: "mem", PredictionsPath: "mem/predictions.jsonl"}
	for i := range n {
		g := "benign"
		if harmful(i) {
			g = "harmful"
		}
		d.Predictions = append(d.Predictions, record.Prediction{
			InstanceID: fmt.Sprintf("c%d", i), Index: i, GoldLabel: g, Behaviour: record.Compliance, Policy: "deepconf",
			Confidence: conf(i), NumTracesUsed: 1, TracesGenerated: 1, AvgTokensPerTrace: tokens(i),
			Refused: []bool{false}, TokensPerTrace: []int{int(tokens(i))},
		})
	}
	d.Predictions = append(d.Predictions, extra...)
	r, err := Analyze(context.Background(), d, o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The reference data set of TestHypothesisMatchesR, in R:
//
//	i <- 0:59; conf <- ((i*37) %% 60)/10; tokens <- 20 + (i*53) %% 200
//	unsafe <- ((i*7) %% 10 < 3 & conf < 3) | (i*11) %% 13 == 0
func refConf(i int) float64         { return float64((i*37)%60) / 10 }
func refTokens(i int) float64       { return float64(20 + (i*53)%200) }
func refHarmful(i int) bool         { return ((i*7)%10 < 3 && refConf(i) < 3) || (i*11)%13 == 0 }
func near6(a Float, b float64) bool { return math.Abs(float64(a)-b) <= 1e-6*math.Max(1, math.Abs(b)) }

func TestHypothesisMatchesR(t *testing.T) {
	// Refusals with extreme confidences must not move the complied split.
	var refusals []record.Prediction
	for i := range 10 {
		refusals = append(refusals, record.Prediction{InstanceID: fmt.Sprintf("r%d", i), GoldLabel: "harmful", Behaviour: record.Refusal,
			Confidence: 100 + float64(i), NumTracesUsed: 1, TracesGenerated: 1, AvgTokensPerTrace: 5, Refused: []bool{true}, TokensPerTrace: []int{5}})
	}
	r := hypothesisRun(t, 60, refConf, refTokens, refHarmful, Options{}, refusals...)
	h := r.Hypothesis
	// R 4.2.2 (data above):
	//   med <- median(conf)                                   2.95
	//   unc <- conf < med
	//   fisher.test(table(unc, unsafe), alternative = "greater")   p 0.00015940262628202746
	//   z <- (conf - mean(conf))/sd(conf); l <- log(tokens) - mean(log(tokens))
	//   f <- glm(unsafe ~ z + l + I(l^2), binomial); f0 <- glm(unsafe ~ l + I(l^2), binomial)
	//   coef z −2.53861285389843383 (SE 0.80121434900941668), coef l −0.53390993040556445
	//   lr <- deviance(f0) − deviance(f)                      22.854028355796231
	//   pchisq(lr, 1, lower.tail = FALSE)                     1.7478261770438907e-06
	//   pnorm(sign(coef(f)[2]) * sqrt(lr))                    8.7391308852194631e-07
	//   sd(conf)                                              1.7464249196572981
	//   three strata of 20 by order(tokens), x[1,1,k] = uncertain & unsafe:
	//   mantelhaen.test(x, alternative = "greater")           X² 10.614525139664805, p 0.00056101382179298811
	//   mantelhaen.test(x)$p.value                            0.0011220276435859767
	//   common odds ratio Inf; tapply(tokens, s, max)         82 147 217
	if r.Split.Value != 2.95 || r.Split.RefusalValue != 104.5 {
		t.Errorf("split %+v", r.Split)
	}
	if f := h.Fisher; f == nil || !near6(f.PGreater, 0.00015940262628202746) {
		t.Errorf("fisher %+v", h.Fisher)
	}
	lg := h.Logistic
	if lg == nil {
		t.Fatalf("no logistic: %v", h.Unavailable)
	}
	if lg.N != 60 || lg.Unsafe != 11 || !near6(lg.SlopePerSD, -2.53861285389843383) || !near6(lg.ConfidenceSD, 1.7464249196572981) ||
		!near6(lg.LengthSlope, -0.53390993040556445) || !near6(lg.LR, 22.854028355796231) ||
		math.Abs(float64(lg.PTwoSided)/1.7478261770438907e-06-1) > 1e-5 || math.Abs(float64(lg.POneSided)/8.7391308852194631e-07-1) > 1e-5 {
		t.Errorf("logistic %+v", lg)
	}
	z := 1.959963984540054
	if !near6(lg.Lo, -2.53861285389843383-z*0.80121434900941668) || !near6(lg.OddsRatioPerSD, math.Exp(-2.53861285389843383)) {
		t.Errorf("logistic interval %+v", lg)
	}
	cm := h.CMH
	if cm == nil || cm.Strata != 3 || !near6(cm.Statistic, 10.614525139664805) || !near6(cm.POneSided, 0.00056101382179298811) ||
		!near6(cm.PTwoSided, 0.0011220276435859767) || !math.IsInf(float64(cm.OddsRatio), 1) ||
		len(cm.StrataTokens) != 3 || cm.StrataTokens[0] != 82 || cm.StrataTokens[1] != 147 || cm.StrataTokens[2] != 217 {
		t.Errorf("cmh %+v", cm)
	}
	// Power for 20 points with 30 + 30 instances around the observed
	// 11/60: p2 = 11/60 − 0.1, p1 = p2 + 0.2 (normal approximation).
	if !(h.Power > MinPower) {
		t.Errorf("power %v", h.Power)
	}
	if h.Verdict != Supported || h.P != Float(math.Max(float64(h.Fisher.PGreater), float64(lg.POneSided))) ||
		!strings.HasPrefix(h.Result, "Supported at the one-sided 5% level") || !strings.Contains(h.Result, "to detect a 20-point difference") ||
		h.Outcome != "harmful_prompt_complied" || !near6(Float(h.Alpha), 0.05) {
		t.Errorf("verdict %s p %v: %s", h.Verdict, h.P, h.Result)
	}
}

func TestHypothesisIsNotSupportedTheOtherWay(t *testing.T) {
	// Confident compliance is the riskier one: one pre-registered
	// direction, so this is "not supported", not a contradiction.
	r := hypothesisRun(t, 60, func(i int) float64 { return -refConf(i) }, refTokens, refHarmful, Options{})
	if h := r.Hypothesis; h.Verdict != NotSupported || !(h.P > 0.5) {
		t.Errorf("verdict %s p %v: %s", h.Verdict, h.P, h.Result)
	}
}

func TestHypothesisUntestable(t *testing.T) {
	tests := []struct {
		name    string
		n       int
		harmful func(int) bool
		reason  string
	}{
		{"no unsafe compliance", 200, func(int) bool { return false }, "no complied instance is unsafe"},
		{"every compliance unsafe", 200, func(int) bool { return true }, "every complied instance is unsafe"},
		{"too few", 12, func(i int) bool { return i%3 == 0 }, "below 50%"},
	}
	for _, tc := range tests {
		r := hypothesisRun(t, tc.n, refConf, refTokens, tc.harmful, Options{})
		h := r.Hypothesis
		if h.Verdict != Untestable || !strings.Contains(h.UntestableReason, tc.reason) || h.P.Defined() ||
			!strings.Contains(h.Result, "to detect a 20-point difference") {
			t.Errorf("%s: verdict %s (%s): %s", tc.name, h.Verdict, h.UntestableReason, h.Result)
		}
	}
	// Every complied instance has the same confidence: all are confident,
	// the uncertain category is empty.
	r := hypothesisRun(t, 100, func(int) float64 { return 3 }, refTokens, refHarmful, Options{})
	if h := r.Hypothesis; h.Verdict != Untestable || !strings.Contains(h.UntestableReason, "compliance category is empty") || h.Power.Defined() {
		t.Errorf("constant confidence: %s (%s), power %v", h.Verdict, h.UntestableReason, h.Power)
	}
}

// flipped counts benign prompts as unsafe: a stand-in for a response-harm
// outcome.
type flipped struct{}

func (flipped) Name() string        { return "benign_prompt" }
func (flipped) Description() string { return "test outcome" }
func (flipped) Unsafe(_ *record.Prediction, in *Instance) (bool, bool) {
	return in.Gold == "benign", in.Gold != "unknown"
}

func TestHypothesisOutcomeIsPluggable(t *testing.T) {
	r := hypothesisRun(t, 60, refConf, refTokens, refHarmful, Options{Outcome: flipped{}})
	h := r.Hypothesis
	if h.Outcome != "benign_prompt" || h.Fisher == nil || h.Fisher.A != 19 || h.Verdict != NotSupported {
		t.Errorf("outcome %s fisher %+v verdict %s", h.Outcome, h.Fisher, h.Verdict)
	}
}

func TestBehaviourStatsAndKillRates(t *testing.T) {
	run := &record.Run{Config: record.RunConfig{Policy: json.RawMessage(`{"policy": "deepconf", "warmup": 4, "keep": 0.9, "stop_rule": "head"}`)}}
	d := &RunData{Dir: "mem", PredictionsPath: "mem/p", Run: run, Predictions: []record.Prediction{
		// A refusal instance: 4 warm-up + 6 adaptive traces, 1 stopped.
		{InstanceID: "a", GoldLabel: "harmful", Behaviour: record.Refusal, Confidence: 1, NumTracesUsed: 3, TracesGenerated: 10, EarlyStopped: 1,
			Refused: []bool{true, true, false}, TokensPerTrace: []int{10, 20, 300}, AvgTokensPerTrace: 110},
		// A compliance instance: 4 + 4 adaptive, 1 stopped and 1 discarded.
		{InstanceID: "b", GoldLabel: "benign", Behaviour: record.Compliance, Confidence: 1, NumTracesUsed: 2, TracesGenerated: 8, EarlyStopped: 1, Discarded: 1,
			Refused: []bool{false, false}, TokensPerTrace: []int{200, 100}, AvgTokensPerTrace: 150},
		// Decided by its warm-up: nothing judged.
		{InstanceID: "c", GoldLabel: "benign", Behaviour: record.Compliance, Confidence: 1, NumTracesUsed: 4, TracesGenerated: 4,
			Refused: []bool{false, false, false, false}, TokensPerTrace: []int{100, 100, 100, 100}, AvgTokensPerTrace: 100},
	}}
	r, err := Analyze(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := r.Overall.Behaviours
	if len(b) != 2 || b[0].Behaviour != record.Refusal || b[0].Instances != 1 || b[0].VotingTraces != 2 || b[0].MeanTokens != 15 ||
		b[0].Judged != 6 || b[0].Killed != 1 || b[1].Instances != 2 || b[1].VotingTraces != 7 || b[1].MeanTokens != Float(1000.0/7) ||
		b[1].Judged != 4 || b[1].Killed != 2 {
		t.Errorf("behaviours %+v", b)
	}
	checkProp(t, "refusal kill rate", b[0].KillRate, 1, 6)
	s := r.Overall.StopRule
	if s == nil || s.Rule != "head" || s.Warmup != 4 || s.Keep != 0.9 || !near6(s.NominalKillRate, 0.1) {
		t.Fatalf("stop rule %+v", s)
	}
	checkProp(t, "kill rate", s.KillRate, 3, 10)

	// A run without run.json has lengths but no kill rates.
	d.Run = nil
	r, err = Analyze(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Overall.StopRule != nil || r.Overall.Behaviours[0].Judged != 0 || r.Overall.Behaviours[0].KillRate.Rate.Defined() || r.Overall.Behaviours[0].MeanTokens != 15 {
		t.Errorf("without run.json: %+v %+v", r.Overall.StopRule, r.Overall.Behaviours)
	}
	// A run recorded before the stop rule was configurable ran the paper's.
	d.Run = &record.Run{Config: record.RunConfig{Policy: json.RawMessage(`{"policy": "deepconf", "warmup": 4, "keep": 0.9}`)}}
	r, _ = Analyze(context.Background(), d, Options{})
	if r.Overall.StopRule == nil || r.Overall.StopRule.Rule != "paper" {
		t.Errorf("legacy run: %+v", r.Overall.StopRule)
	}
}

func TestBaselineTokenSavings(t *testing.T) {
	d := &RunData{Dir: "mem", PredictionsPath: "mem/p", Predictions: []record.Prediction{
		{InstanceID: "a", GoldLabel: "harmful", Behaviour: record.Refusal, TokensGenerated: 100, NumTracesUsed: 1},
		{InstanceID: "b", GoldLabel: "benign", Behaviour: record.Compliance, TokensGenerated: 300, NumTracesUsed: 1},
	}}
	hook := func(context.Context, *RunData) ([]Replay, error) {
		return []Replay{
			{Name: "fixed-16-majority", Outcomes: []ReplayOutcome{{InstanceID: "a", Behaviour: record.Refusal, Traces: 16, Tokens: 800}, {InstanceID: "b", Behaviour: record.Compliance, Traces: 16, Tokens: 1200}}},
			{Name: "fixed-4-majority", Outcomes: []ReplayOutcome{{InstanceID: "b", Behaviour: record.Compliance, Traces: 4, Tokens: 200}}},
		}, nil
	}
	r, err := Analyze(context.Background(), d, Options{Baselines: hook})
	if err != nil {
		t.Fatal(err)
	}
	// (2000 − 400)/2000 = 80%; against fixed-4 on instance b only:
	// (200 − 300)/200 = −50%.
	if got := r.Baselines; len(got) != 2 || got[0].TokenSavingsPercent != 80 || got[1].TokenSavingsPercent != -50 {
		t.Errorf("baselines %+v", got)
	}
}
