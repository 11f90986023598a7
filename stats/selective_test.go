package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestSelectiveHand(t *testing.T) {
	// Scores 0.9 … 0.5 with failures at the 2nd and 5th: the risks of the
	// k most confident are 0, 1/2, 1/3, 1/4, 2/5, so AURC = (0 + 1/2 +
	// 1/3 + 1/4 + 2/5)/5 = 89/300 (Geifman and El-Yaniv 2017's empirical
	// risk–coverage curve; also testdata/calibration_references.py). The
	// oracle puts both failures last: (1/4 + 2/5)/5 = 0.13; random = 2/5.
	s, err := NewSelective([]float64{0.9, 0.8, 0.7, 0.6, 0.5}, []bool{false, true, false, false, true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Evaluate(0.3, nil)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "AURC", st.AURC, 89.0/300, 1e-15)
	near(t, "oracle", st.Oracle, 0.13, 1e-15)
	near(t, "E-AURC", st.Excess, 89.0/300-0.13, 1e-15)
	near(t, "random", st.Random, 0.4, 0)
	near(t, "risk", st.Risk, 0.4, 0)
	// Successes 0.9, 0.7, 0.6 against failures 0.8, 0.5: 0.9 beats both,
	// 0.7 and 0.6 beat 0.5 only: 4 of 6 pairs.
	near(t, "AUROC", st.AUROC, 4.0/6, 1e-15)
	// Risk ≤ 0.3 at coverage 1/5 (0), 4/5 (1/4): the largest is 4/5 at
	// threshold 0.6.
	near(t, "coverage", st.Coverage, 0.8, 0)
	near(t, "threshold", st.Threshold, 0.6, 0)
	curve, _ := s.Curve(nil)
	wantRisk := []float64{0, 0.5, 1.0 / 3, 0.25, 0.4}
	for i, p := range curve {
		near(t, "curve risk", p.Risk, wantRisk[i], 1e-15)
		near(t, "curve coverage", p.Coverage, float64(i+1)/5, 1e-15)
	}
	// The AUROC agrees with the package's Mann–Whitney AUROC of the score
	// for success.
	auc, _ := AUROC([]float64{0.9, 0.8, 0.7, 0.6, 0.5}, []bool{true, false, true, true, false})
	near(t, "AUROC vs AUROC()", st.AUROC, auc, 1e-15)

	// A target nothing reaches.
	st, _ = s.Evaluate(0, nil)
	if st.Coverage != 0.2 || st.Threshold != 0.9 {
		t.Errorf("target 0: coverage %v threshold %v, want 0.2 at 0.9", st.Coverage, st.Threshold)
	}
	r, _ := NewSelective([]float64{1, 2}, []bool{true, true})
	st, _ = r.Evaluate(0.5, nil)
	if st.Coverage != 0 || !math.IsNaN(st.Threshold) || !math.IsNaN(st.AUROC) {
		t.Errorf("all failures: %+v", st)
	}
	near(t, "all failures AURC", st.AURC, 1, 1e-15)
	near(t, "all failures oracle", st.Oracle, 1, 1e-15)
}

func TestSelectiveTies(t *testing.T) {
	// Tied scores: the AURC averaged over every order of the tied
	// instances, by enumeration with exact fractions
	// (testdata/calibration_references.py): 5839/12960.
	score := []float64{3, 3, 3, 2, 2, 1, 1, 1, 1}
	fail := []bool{false, true, false, true, true, false, true, false, false}
	s, err := NewSelective(score, fail)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.Evaluate(0.05, nil)
	near(t, "AURC ties", st.AURC, 5839.0/12960, 1e-15)
	// The input order does not matter.
	rs := []float64{1, 2, 3, 1, 3, 1, 2, 1, 3}
	rf := []bool{false, true, false, true, true, false, true, false, false}
	r, _ := NewSelective(rs, rf)
	st2, _ := r.Evaluate(0.05, nil)
	near(t, "AURC permuted", st2.AURC, st.AURC, 1e-15)
	// All tied: every coverage has the expected risk F/N = random.
	a, _ := NewSelective([]float64{5, 5, 5, 5}, []bool{true, false, false, false})
	sa, _ := a.Evaluate(0.05, nil)
	near(t, "all tied", sa.AURC, 0.25, 1e-15)
	near(t, "all tied AUROC", sa.AUROC, 0.5, 1e-15)
}

func TestSelectiveOracleLimit(t *testing.T) {
	// Geifman, Uziel and El-Yaniv (2019): the oracle AURC tends to
	// r + (1 − r)·ln(1 − r) for risk r at full coverage. The discrete
	// value differs by O(log N / N).
	const n = 100000
	for _, r := range []float64{0.05, 0.3, 0.7} {
		score := make([]float64, n)
		fail := make([]bool, n)
		nf := int(r * n)
		for i := range score {
			score[i] = float64(i)
			fail[i] = i < nf // the least confident fail: the oracle order
		}
		s, _ := NewSelective(score, fail)
		st, _ := s.Evaluate(0.05, nil)
		want := r + (1-r)*math.Log(1-r)
		near(t, "oracle limit", st.Oracle, want, 2e-4)
		near(t, "oracle order", st.AURC, st.Oracle, 1e-12)
		near(t, "E-AURC of the oracle order", st.Excess, 0, 1e-12)
	}
}

func TestSelectiveWeights(t *testing.T) {
	// A weight of 2 is a copy of the instance.
	score := []float64{0.4, 0.9, 0.1, 0.7, 0.7, 0.3}
	fail := []bool{true, false, true, false, true, false}
	s, _ := NewSelective(score, fail)
	a, err := s.Evaluate(0.2, []int{1, 2, 0, 1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := NewSelective([]float64{0.4, 0.9, 0.9, 0.7, 0.7, 0.3}, []bool{true, false, false, false, true, false})
	b, _ := c.Evaluate(0.2, nil)
	if math.Abs(a.AURC-b.AURC) > 1e-15 || a.Oracle != b.Oracle || a.Coverage != b.Coverage || a.AUROC != b.AUROC || a.Threshold != b.Threshold {
		t.Errorf("weights %+v, copies %+v", a, b)
	}
	// Weight 0 on the most and least confident instances: the threshold
	// is a score of the resample (0.3, not the absent 0.1), and the
	// counts path gives the same.
	w := []int{1, 0, 0, 0, 2, 2}
	z, _ := s.Evaluate(0.7, w)
	d, _ := NewSelective([]float64{0.4, 0.7, 0.7, 0.3, 0.3}, []bool{true, true, true, false, false})
	e, _ := d.Evaluate(0.7, nil)
	if math.Abs(z.AURC-e.AURC) > 1e-15 || z.Coverage != e.Coverage || z.Threshold != e.Threshold || z.AUROC != e.AUROC {
		t.Errorf("zero weights %+v, copies %+v", z, e)
	}
	if z.Coverage != 1 || z.Threshold != 0.3 {
		t.Errorf("zero weights: coverage %v at %v, want 1 at 0.3", z.Coverage, z.Threshold)
	}
	if c := s.EvaluateCounts(0.7, w); c != z {
		t.Errorf("EvaluateCounts %+v, Evaluate %+v", c, z)
	}
	if _, err := s.Evaluate(1.5, nil); err == nil {
		t.Error("target 1.5 accepted")
	}
	if _, err := NewSelective([]float64{math.Inf(1)}, []bool{true}); !errors.Is(err, ErrNotFinite) {
		t.Errorf("inf score: %v", err)
	}
	if _, err := NewSelective(nil, nil); !errors.Is(err, ErrTooFew) {
		t.Errorf("empty: %v", err)
	}
}

func TestSelectiveNoSignal(t *testing.T) {
	// A score independent of failure: E[AURC] = random exactly, so the
	// average over many data sets is close to it.
	rng := rand.New(rand.NewPCG(1, 2))
	const n, trials = 300, 300
	var diff float64
	score := make([]float64, n)
	fail := make([]bool, n)
	for range trials {
		for i := range score {
			score[i] = rng.Float64()
			fail[i] = rng.Float64() < 0.2
		}
		s, _ := NewSelective(score, fail)
		st, _ := s.Evaluate(0.05, nil)
		diff += st.AURC - st.Random
	}
	if m := diff / trials; math.Abs(m) > 0.003 {
		t.Errorf("mean AURC − random = %v, want ≈ 0", m)
	}
}
