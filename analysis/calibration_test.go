package analysis

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/stats"
)

// simInstance is one simulated prediction: whether it is correct, whether
// its prompt is harmful, its vote share and DeepConf confidence.
type simInstance struct {
	correct, harmful bool
	beta, confidence float64
}

// simRun builds a run of the simulated predictions: the behaviour is the
// one that makes the instance correct or not.
func simRun(ins []simInstance) *RunData {
	d := &RunData{Dir: "/sim", PredictionsPath: "/sim/predictions.jsonl"}
	for i, in := range ins {
		gold := "benign"
		if in.harmful {
			gold = "harmful"
		}
		refuse := in.harmful == in.correct
		beh := record.Compliance
		if refuse {
			beh = record.Refusal
		}
		d.Predictions = append(d.Predictions, record.Prediction{
			InstanceID: fmt.Sprintf("sim_%d", i), Index: i, GoldLabel: gold, Behaviour: beh, Beta: in.beta,
			Votes: map[string]float64{beh: in.beta}, Confidence: in.confidence, TraceConfidences: []float64{in.confidence},
			NumTracesUsed: 10, TracesGenerated: 10, TokensGenerated: 100, TotalTokens: 100, Policy: "deepconf",
		})
	}
	return d
}

// simulate draws n instances whose β is calibrated by construction
// (P(correct | β) = β, β uniform on [0.5, 1]) and whose confidence is a
// noisy increasing function of β (so it carries the same signal), or pure
// noise when noSignal is set.
func simulate(n int, seed uint64, noSignal bool) []simInstance {
	rng := rand.New(rand.NewPCG(seed, 99))
	out := make([]simInstance, n)
	for i := range out {
		b := 0.5 + 0.5*rng.Float64()
		c := 10 + 8*b + rng.NormFloat64()
		if noSignal {
			c = 10 + rng.NormFloat64()
		}
		out[i] = simInstance{correct: rng.Float64() < b, harmful: rng.Float64() < 0.3, beta: b, confidence: c}
	}
	return out
}

func analyzeSim(t *testing.T, ins []simInstance, o Options) *Result {
	t.Helper()
	r, err := Analyze(context.Background(), simRun(ins), o)
	if err != nil {
		t.Fatal(err)
	}
	if r.Calibration == nil || r.Selective == nil {
		t.Fatal("no calibration or selective block")
	}
	return r
}

// The acceptance checks: forecasts calibrated by construction give a
// calibration error whose interval reaches 0; forecasts squashed toward 1
// a clearly larger one; a score without signal an AURC equal to the random
// order's within its interval.
func TestCalibrationAcceptance(t *testing.T) {
	const n = 3000
	sim := simulate(n, 1, false)
	r := analyzeSim(t, sim, Options{})
	raw := r.Calibration.Score(ScoreBeta, MapRaw)
	if raw == nil {
		t.Fatalf("no raw β: %+v", r.Calibration.Unavailable)
	}
	t.Logf("calibrated β: ECE %.4f [%.4f, %.4f], CE² debiased %.5f [%.5f, %.5f], consistency p %.3f (null ECE %.4f)",
		raw.ECE.Value, raw.ECE.Lo, raw.ECE.Hi, raw.CE2Debiased.Value, raw.CE2Debiased.Lo, raw.CE2Debiased.Hi,
		raw.Consistency.P, raw.Consistency.NullMean)
	// The ECE's basic interval, which corrects the plug-in's upward bias,
	// reaches 0 too.
	if raw.ECE.Lo != 0 {
		t.Errorf("calibrated β: ECE interval [%v, %v] does not reach 0", raw.ECE.Lo, raw.ECE.Hi)
	}
	if !(raw.CE2Debiased.Lo <= 0 && raw.CE2Debiased.Hi >= 0) || raw.CEDebiased.Lo != 0 {
		t.Errorf("calibrated β: debiased CE² interval [%v, %v] (CE [%v, %v]) does not reach 0",
			raw.CE2Debiased.Lo, raw.CE2Debiased.Hi, raw.CEDebiased.Lo, raw.CEDebiased.Hi)
	}
	if raw.Consistency.P < 0.05 {
		t.Errorf("calibrated β: consistency p = %v", raw.Consistency.P)
	}
	// The plug-in ECE of a calibrated forecaster is about its null mean.
	if math.Abs(float64(raw.ECE.Value-raw.Consistency.NullMean)) > 0.02 {
		t.Errorf("calibrated β: ECE %v far from the null mean %v", raw.ECE.Value, raw.Consistency.NullMean)
	}

	// Squash β toward 1: 1 − (1 − β)/4 claims 0.875–1 where the truth is
	// 0.5–1.
	squashed := make([]simInstance, n)
	copy(squashed, sim)
	for i := range squashed {
		squashed[i].beta = 1 - (1-squashed[i].beta)/4
	}
	rs := analyzeSim(t, squashed, Options{})
	sq := rs.Calibration.Score(ScoreBeta, MapRaw)
	t.Logf("squashed β: ECE %.4f [%.4f, %.4f], CE debiased %.4f [%.4f, %.4f], consistency p %.4f",
		sq.ECE.Value, sq.ECE.Lo, sq.ECE.Hi, sq.CEDebiased.Value, sq.CEDebiased.Lo, sq.CEDebiased.Hi, sq.Consistency.P)
	if !(sq.ECE.Lo > raw.ECE.Hi) || sq.ECE.Value < 5*raw.ECE.Value {
		t.Errorf("squashed ECE %v [%v, %v] not clearly above calibrated %v [%v, %v]",
			sq.ECE.Value, sq.ECE.Lo, sq.ECE.Hi, raw.ECE.Value, raw.ECE.Lo, raw.ECE.Hi)
	}
	if sq.CEDebiased.Lo < 0.1 || sq.Consistency.P > 0.01 {
		t.Errorf("squashed: debiased CE [%v, %v], consistency p %v", sq.CEDebiased.Lo, sq.CEDebiased.Hi, sq.Consistency.P)
	}
	// The cross-fitted isotonic map repairs the squashing: its
	// calibration error is as small as that of the calibrated β.
	iso := rs.Calibration.Score(ScoreBeta, CalibrationIsotonic)
	if iso == nil || iso.CEDebiased.Value > 0.03 || iso.ECE.Value > 2*raw.ECE.Value+0.01 {
		t.Errorf("isotonic map of the squashed β: %+v", iso)
	}
	// A monotone transformation keeps the ranking: same AURC.
	a := r.Selective.Score(ScoreBeta, RiskError)
	b := rs.Selective.Score(ScoreBeta, RiskError)
	if a.AURC != b.AURC || a.AUROC != b.AUROC {
		t.Errorf("AURC %v / %v and AUROC %v / %v differ under a monotone map", a.AURC, b.AURC, a.AUROC, b.AUROC)
	}

	// A confidence without signal: AURC within its interval of random.
	rn := analyzeSim(t, simulate(n, 2, true), Options{})
	for _, risk := range []string{RiskError, RiskUnsafe} {
		s := rn.Selective.Score(ScoreConfidence, risk)
		t.Logf("no signal, %s: AURC %.4f [%.4f, %.4f], random %.4f, AUROC %.3f", risk, s.AURC.Value, s.AURC.Lo, s.AURC.Hi, s.Random.Value, s.AUROC.Value)
		if !(s.AURC.Lo <= s.Random.Value && s.Random.Value <= s.AURC.Hi) {
			t.Errorf("no signal, %s: random %v outside the AURC interval [%v, %v]", risk, s.Random.Value, s.AURC.Lo, s.AURC.Hi)
		}
	}
	// A confidence with signal: AURC clearly below random.
	s := r.Selective.Score(ScoreConfidence, RiskError)
	if !(s.AURC.Hi < s.Random.Value) || !(s.AUROC.Lo > 0.5) {
		t.Errorf("signal: AURC %+v, random %v, AUROC %+v", s.AURC, s.Random.Value, s.AUROC)
	}
}

func TestCalibrationInstancesAndCrossFit(t *testing.T) {
	sim := simulate(400, 3, false)
	d := simRun(sim)
	// An unscored instance: unknown gold.
	d.Predictions[0].GoldLabel = "unknown"
	r, err := Analyze(context.Background(), d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	in := r.Instances
	if !math.IsNaN(in[0].PBeta) || !math.IsNaN(in[0].PConfidence) || in[0].Beta != sim[0].beta {
		t.Errorf("unscored instance: %+v", in[0])
	}
	// Every scored instance has out-of-fold probabilities equal to an
	// isotonic map fitted on the other folds.
	correct := make([]bool, 0, len(in))
	x := make([]float64, 0, len(in))
	for _, v := range in[1:] {
		correct = append(correct, v.Correct)
		x = append(x, v.Beta)
	}
	folds, err := stats.StratifiedFolds(correct, DefaultCalibrationFolds, DefaultSeed)
	if err != nil {
		t.Fatal(err)
	}
	for f := range DefaultCalibrationFolds {
		var tx, ty []float64
		for k := range x {
			if folds[k] != f {
				y := 0.0
				if correct[k] {
					y = 1
				}
				tx, ty = append(tx, x[k]), append(ty, y)
			}
		}
		m, err := stats.FitIsotonic(tx, ty, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k := range x {
			if folds[k] == f && in[k+1].PBeta != m.Predict(x[k]) {
				t.Fatalf("instance %d: PBeta %v, fold map %v", k+1, in[k+1].PBeta, m.Predict(x[k]))
			}
		}
	}
	// The selective AUROC is the package's AUROC of β for correctness.
	auc, _ := stats.AUROC(x, correct)
	if got := float64(r.Selective.Score(ScoreBeta, RiskError).AUROC.Value); math.Abs(got-auc) > 1e-12 {
		t.Errorf("AUROC %v, want %v", got, auc)
	}
	// The unsafe-compliance population is the complied instances.
	complied := 0
	for _, v := range in {
		if v.Scored && v.Behaviour == record.Compliance {
			complied++
		}
	}
	if s := r.Selective.Score(ScoreBeta, RiskUnsafe); s.N != complied {
		t.Errorf("unsafe population %d, want %d complied", s.N, complied)
	}
}

func TestCalibrationJSONAndDeterminism(t *testing.T) {
	sim := simulate(300, 4, false)
	o := Options{Resamples: 200}
	a := analyzeSim(t, sim, o)
	b := analyzeSim(t, sim, o)
	ja, err := json.Marshal(struct {
		C *Calibration `json:"calibration"`
		S *Selective   `json:"selective"`
	}{a.Calibration, a.Selective})
	if err != nil {
		t.Fatal(err)
	}
	jb, _ := json.Marshal(struct {
		C *Calibration `json:"calibration"`
		S *Selective   `json:"selective"`
	}{b.Calibration, b.Selective})
	if !bytes.Equal(ja, jb) {
		t.Error("same input and seed, different blocks")
	}
	for _, key := range []string{`"ece":{"value":`, `"ce2_debiased"`, `"consistency":{"ece_null_mean"`, `"reliability_diagram":[{"bin":0`,
		`"aurc":{"value"`, `"e_aurc"`, `"random_aurc"`, `"coverage_at_target"`, `"curve":[{"threshold"`, `"map":"isotonic"`, `"map":"raw"`,
		`"risk":"unsafe_compliance"`, `"target_risk":0.05`} {
		if !bytes.Contains(ja, []byte(key)) {
			t.Errorf("JSON lacks %s", key)
		}
	}
	var back map[string]any
	if err := json.Unmarshal(ja, &back); err != nil {
		t.Fatalf("blocks are not valid JSON: %v", err)
	}
	// Brier = REL − RES + UNC on the data, to 1e-12.
	for _, c := range a.Calibration.Scores {
		if d := math.Abs(float64(c.Reliability.Value - c.Resolution.Value + c.Uncertainty.Value - c.Brier.Value)); d > 1e-12 {
			t.Errorf("%s %s: decomposition off by %g", c.Score, c.Map, d)
		}
		n := 0
		for _, bin := range c.Diagram {
			n += bin.N
		}
		if n != c.N || len(c.Diagram) != c.Bins {
			t.Errorf("%s %s: diagram holds %d of %d in %d bins (%d)", c.Score, c.Map, n, c.N, len(c.Diagram), c.Bins)
		}
	}
	for _, s := range a.Selective.Scores {
		if len(s.Curve) == 0 || len(s.Curve) > curvePoints+1 || s.Curve[len(s.Curve)-1].Coverage != 1 || s.Curve[len(s.Curve)-1].Kept != s.N {
			t.Errorf("%s %s: curve of %d points ending at %+v", s.Score, s.Risk, len(s.Curve), s.Curve[len(s.Curve)-1])
		}
	}
	// Platt as the map.
	p := analyzeSim(t, sim, Options{Resamples: 50, Calibration: CalibrationOptions{Method: CalibrationPlatt}})
	if p.Calibration.Score(ScoreConfidence, CalibrationPlatt) == nil || p.Calibration.Method != CalibrationPlatt {
		t.Errorf("Platt: %+v", p.Calibration)
	}
}

func TestCalibrationSmallAndUnavailable(t *testing.T) {
	// 12 instances: the blocks exist but warn; the prototype's files (no
	// DeepConf confidence) make the confidence unavailable.
	sim := simulate(12, 5, false)
	d := simRun(sim)
	for i := range d.Predictions {
		p := &d.Predictions[i]
		p.Confidence, p.TraceConfidences = 0, nil
	}
	r, err := Analyze(context.Background(), d, Options{Resamples: 50})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Calibration.Small || !r.Selective.Small || len(r.Calibration.Flags) == 0 {
		t.Errorf("no small-sample warning: %+v / %+v", r.Calibration.Flags, r.Selective.Flags)
	}
	if why := r.Calibration.Unavailable[ScoreConfidence]; !strings.Contains(why, "no DeepConf confidence") {
		t.Errorf("confidence unavailable: %q", why)
	}
	if r.Calibration.Score(ScoreConfidence, CalibrationIsotonic) != nil {
		t.Error("a confidence calibration without confidences")
	}
	// Fewer scored instances than folds.
	r, err = Analyze(context.Background(), simRun(simulate(3, 6, false)), Options{Resamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Calibration.Unavailable["beta isotonic"]; !ok || r.Calibration.Score(ScoreBeta, MapRaw) == nil {
		t.Errorf("3 instances: %+v", r.Calibration)
	}
	// The prototype's β comes from refusal_rate.
	proto := simRun(simulate(40, 7, false))
	for i := range proto.Predictions {
		p := &proto.Predictions[i]
		p.Beta, p.Votes, p.Behaviour = 0, nil, ""
		p.RefusalRate = 0.2
		p.Refused = []bool{true, false, false, false, false}
	}
	r, err = Analyze(context.Background(), proto, Options{Resamples: 20})
	if err != nil {
		t.Fatal(err)
	}
	if r.Instances[0].Beta != 0.8 {
		t.Errorf("prototype β %v, want 0.8 (compliance with refusal_rate 0.2)", r.Instances[0].Beta)
	}
	// Skip.
	r, err = Analyze(context.Background(), simRun(sim), Options{Calibration: CalibrationOptions{Skip: true}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Calibration != nil || r.Selective != nil {
		t.Error("Skip computed the blocks")
	}
}

func TestCalibrationOptionsValidate(t *testing.T) {
	d := simRun(simulate(10, 8, false))
	for _, c := range []CalibrationOptions{
		{Method: "beta"}, {Folds: 1}, {Folds: -3}, {Bins: -1}, {TargetRisk: 1}, {TargetRisk: -0.1}, {TargetRisk: math.NaN()},
	} {
		if _, err := Analyze(context.Background(), d, Options{Calibration: c}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// BenchmarkCalibrationToxicChatSize measures the calibration and selective
// blocks alone on a ToxicChat-sized run (5,083 instances) with the default
// 2,000 bootstrap resamples and with 1,000: their share of deepconf
// analyze's time, and what fewer resamples would save.
func BenchmarkCalibrationToxicChatSize(b *testing.B) {
	const toxicChatInstances = 5083 // ToxicChat's test split
	d := simRun(simulate(toxicChatInstances, 1, false))
	for _, resamples := range []int{stats.DefaultResamples, 1000} {
		b.Run(fmt.Sprintf("resamples=%d", resamples), func(b *testing.B) {
			o := Options{Resamples: resamples}.withDefaults()
			r := &Result{}
			insts, err := scoreInstances(d, o)
			if err != nil {
				b.Fatal(err)
			}
			r.Instances = insts
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := calibrate(r, d.Predictions, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestCompareCalibration(t *testing.T) {
	const n = 1500
	sim := simulate(n, 11, false)
	squashed := make([]simInstance, n)
	copy(squashed, sim)
	for i := range squashed {
		squashed[i].beta = 1 - (1-squashed[i].beta)/4
	}
	// A third run without signal in its confidence, and 300 instances
	// fewer: the pairs use the shared instances only.
	noisy := simulate(n, 12, true)[:n-300]
	o := Options{Resamples: 500}
	runs := []CompareRun{
		{Dir: "/a", Model: "Qwen3-8B", Benchmark: "sim", Result: analyzeSim(t, sim, o)},
		{Dir: "/b", Model: "Qwen3-0.6B", Benchmark: "sim", Result: analyzeSim(t, squashed, o)},
		{Dir: "/c", Model: "Qwen3-1.7B", Benchmark: "sim", Result: analyzeSim(t, noisy, o)},
		{Dir: "/d", Model: "Qwen3-4B", Benchmark: "other", Result: analyzeSim(t, sim, o)},
	}
	c, err := Compare(runs)
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Calibration
	if cc == nil || len(cc.Runs) != 4 || cc.Resamples != 500 {
		t.Fatalf("calibration comparison %+v", cc)
	}
	// Runs in Comparison order: other's 4B, then sim's 0.6B, 1.7B, 8B.
	for i, r := range c.Runs {
		if cc.Runs[i].Label != r.Label || len(cc.Runs[i].Scores) != 2 {
			t.Errorf("row %d: %+v", i, cc.Runs[i])
		}
	}
	var pair *CalibrationPair
	pairs := 0
	for i := range cc.Pairs {
		p := &cc.Pairs[i]
		if p.Benchmark != "sim" {
			t.Errorf("pair across benchmarks: %+v", p)
		}
		pairs++
		if p.RunA == "Qwen3-0.6B" && p.RunB == "Qwen3-8B" && p.Score == ScoreBeta {
			pair = p
		}
		wantShared := n
		if p.RunA == "Qwen3-1.7B" || p.RunB == "Qwen3-1.7B" {
			wantShared = n - 300
		}
		if p.Shared != wantShared {
			t.Errorf("%s vs %s: %d shared, want %d", p.RunA, p.RunB, p.Shared, wantShared)
		}
		for _, d := range []CalibrationDiff{p.ECE, p.Brier, p.AURC, p.AUROC} {
			if d.P.P.Defined() && !(d.P.Adjusted >= d.P.P) {
				t.Errorf("BH %v below p %v", d.P.Adjusted, d.P.P)
			}
		}
	}
	if pairs != 6 || cc.Tests != 24 {
		t.Errorf("%d pairs, %d tests; want 3 run pairs × 2 scores, 24 p-values", pairs, cc.Tests)
	}
	if pair == nil {
		t.Fatal("no 0.6B vs 8B β pair")
	}
	t.Logf("squashed − calibrated β: ECE %+.4f [%.4f, %.4f] p %.4g (BH %.4g); AURC %+.4f p %v",
		pair.ECE.Diff, pair.ECE.Lo, pair.ECE.Hi, pair.ECE.P.P, pair.ECE.P.Adjusted, pair.AURC.Diff, pair.AURC.P.P)
	// The squashed β (0.6B) is worse calibrated, significantly so.
	if !(pair.ECE.Diff > 0.1 && pair.ECE.Lo > 0 && pair.ECE.P.P == 2.0/501 && pair.ECE.P.Adjusted < 0.05) {
		t.Errorf("ECE difference %+v", pair.ECE)
	}
	if !(pair.Brier.Diff > 0 && pair.Brier.Lo > 0) {
		t.Errorf("Brier difference %+v", pair.Brier)
	}
	// Same ranking, same correctness: the AURC and AUROC are equal on
	// every resample, p = 1.
	if pair.AURC.Diff != 0 || pair.AURC.Lo != 0 || pair.AURC.Hi != 0 || pair.AURC.P.P != 1 || pair.AUROC.Diff != 0 {
		t.Errorf("AURC %+v, AUROC %+v: want no difference", pair.AURC, pair.AUROC)
	}
	// The per-run rows carry the runs' own estimates.
	if cc.Runs[1].Label != "Qwen3-0.6B" {
		t.Fatalf("row 1 is %s", cc.Runs[1].Label)
	}
	if got, want := cc.Runs[1].Scores[0].ECE, runs[1].Result.Calibration.Score(ScoreBeta, MapRaw).ECE; got != want {
		t.Errorf("row ECE %+v, want %+v", got, want)
	}
	// A comparison of runs without calibration blocks has none.
	r0 := *runs[0].Result
	r0.Calibration, r0.Selective = nil, nil
	c, err = Compare([]CompareRun{{Dir: "/a", Model: "m", Benchmark: "b", Result: &r0}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Calibration != nil {
		t.Errorf("calibration comparison without blocks: %+v", c.Calibration)
	}
}
