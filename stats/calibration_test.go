package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// The reference values of this file come from
// testdata/calibration_references.py.

func TestECEReferences(t *testing.T) {
	// scikit-learn's calibration_curve documentation example, with
	// strategy="quantile" (equal-mass bins): prob_true = [0, 2/3, 1],
	// prob_pred = [0.2, 0.58333, 0.9], three bins of 3, so ECE =
	// (0.2 + 1/12 + 0.1)/3 = 0.12777….
	y := []bool{false, false, false, false, true, true, true, true, true}
	p := []float64{0.1, 0.2, 0.3, 0.4, 0.65, 0.7, 0.8, 0.9, 1}
	f, err := NewForecasts(p, y)
	if err != nil {
		t.Fatal(err)
	}
	bins, err := f.Bins(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantTrue := []float64{0, 0.6666666666666666, 1}
	wantPred := []float64{0.20000000000000004, 0.5833333333333334, 0.9}
	if len(bins) != 3 {
		t.Fatalf("%d bins, want 3", len(bins))
	}
	for i, b := range bins {
		near(t, "observed", b.Observed, wantTrue[i], 1e-15)
		near(t, "mean forecast", b.MeanForecast, wantPred[i], 1e-15)
		if b.N != 3 {
			t.Errorf("bin %d has %d, want 3", i, b.N)
		}
	}
	if bins[1].ForecastLo != 0.4 || bins[1].ForecastHi != 0.7 || bins[1].Positives != 2 {
		t.Errorf("bin 1 = %+v", bins[1])
	}
	ece, err := ECE(p, y, 3)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "ECE", ece, 0.12777777777777777, 1e-15)

	// Hand-computed: with one bin ECE is |mean(p) − mean(y)|.
	ece1, _ := ECE(p, y, 1)
	near(t, "ECE 1 bin", ece1, math.Abs(5.05/9-5.0/9), 1e-15)
	// With a bin per instance it is the mean |p − y|.
	ece9, _ := ECE(p, y, 9)
	near(t, "ECE 9 bins", ece9, (0.1+0.2+0.3+0.4+0.35+0.3+0.2+0.1+0)/9, 1e-15)
}

func TestBinsKeepTies(t *testing.T) {
	// 10 instances, 4 of them tied at 0.5 across the cut point 4 of 5
	// bins (cuts at cumulative counts 2, 4, 6, 8): ties are never split,
	// so the tie stays in the bin it starts in and the bin of cut 4 is
	// empty: {0.1, 0.2}, {0.3, 0.5×4}, {0.7}, {0.8, 0.9}.
	p := []float64{0.5, 0.1, 0.5, 0.2, 0.9, 0.3, 0.5, 0.7, 0.8, 0.5}
	y := make([]bool, len(p))
	f, err := NewForecasts(p, y)
	if err != nil {
		t.Fatal(err)
	}
	bins, _ := f.Bins(5, nil)
	var sizes []int
	for _, b := range bins {
		sizes = append(sizes, b.N)
	}
	want := []int{2, 5, 1, 2}
	if len(sizes) != len(want) {
		t.Fatalf("bin sizes %v, want %v", sizes, want)
	}
	for i := range want {
		if sizes[i] != want[i] {
			t.Fatalf("bin sizes %v, want %v", sizes, want)
		}
	}
	// Weights act as copies: weight 2 on an instance equals duplicating it.
	w := []int{1, 1, 1, 1, 2, 1, 1, 1, 1, 1}
	a, err := f.Evaluate(3, w)
	if err != nil {
		t.Fatal(err)
	}
	dup, _ := NewForecasts(append(append([]float64{}, p...), p[4]), append(append([]bool{}, y...), y[4]))
	b, _ := dup.Evaluate(3, nil)
	if a != b {
		t.Errorf("weights %+v, copies %+v", a, b)
	}
	if c := f.EvaluateCounts(3, w); c != a {
		t.Errorf("EvaluateCounts %+v, Evaluate %+v", c, a)
	}
}

func TestBrierReferences(t *testing.T) {
	// scikit-learn's brier_score_loss documentation example: 0.0375.
	b, err := Brier([]float64{0.1, 0.9, 0.8, 0.3}, []bool{false, true, true, false})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Brier sklearn", b.Brier, 0.0375, 1e-15)

	// Murphy (1973) decomposition by exact fractions: BS = 21/100,
	// REL = 53/1800, RES = 1/16, UNC = 35/144.
	p := []float64{0.1, 0.1, 0.1, 0.3, 0.3, 0.5, 0.5, 0.5, 0.5, 0.7, 0.9, 0.9}
	o := []bool{false, false, true, false, true, false, true, true, false, true, true, true}
	b, err = Brier(p, o)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "BS", b.Brier, 21.0/100, 1e-15)
	near(t, "REL", b.Reliability, 53.0/1800, 1e-15)
	near(t, "RES", b.Resolution, 1.0/16, 1e-15)
	near(t, "UNC", b.Uncertainty, 35.0/144, 1e-15)

	// Hand-computed: forecasts 0.2 (5 instances, 1 positive) and 0.8 (5,
	// 3): ȳ = 0.4, UNC = 0.24, REL = 5·0.2²/10 = 0.02, RES = (5·0.2² +
	// 5·0.2²)/10 = 0.04, BS = 0.22.
	p = []float64{0.2, 0.2, 0.2, 0.2, 0.2, 0.8, 0.8, 0.8, 0.8, 0.8}
	o = []bool{true, false, false, false, false, true, true, true, false, false}
	b, _ = Brier(p, o)
	near(t, "BS hand", b.Brier, 0.22, 1e-15)
	near(t, "REL hand", b.Reliability, 0.02, 1e-15)
	near(t, "RES hand", b.Resolution, 0.04, 1e-15)
	near(t, "UNC hand", b.Uncertainty, 0.24, 1e-15)
}

func TestBrierDecompositionExact(t *testing.T) {
	// REL − RES + UNC = BS to 1e-12 for continuous forecasts (every group
	// a single instance), heavily tied ones (an isotonic map's few
	// values), and under bootstrap weights.
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := range 50 {
		n := 1 + rng.IntN(6000)
		p := make([]float64, n)
		y := make([]bool, n)
		for i := range p {
			p[i] = rng.Float64()
			if trial%2 == 1 {
				p[i] = float64(rng.IntN(7)) / 6
			}
			y[i] = rng.Float64() < p[i]*0.8+0.1
		}
		f, err := NewForecasts(p, y)
		if err != nil {
			t.Fatal(err)
		}
		var w []int
		if trial%3 == 2 {
			w = make([]int, n)
			for range n {
				w[rng.IntN(n)]++
			}
		}
		s, err := f.Evaluate(10, w)
		if err != nil {
			t.Fatal(err)
		}
		// The Brier score computed directly.
		var direct, tot float64
		for i := range p {
			k := 1.0
			if w != nil {
				k = float64(w[i])
			}
			d := p[i]
			if y[i] {
				d = 1 - p[i]
			}
			direct += k * d * d
			tot += k
		}
		direct /= tot
		if d := math.Abs(s.Reliability - s.Resolution + s.Uncertainty - s.Brier); d > 1e-12 {
			t.Errorf("trial %d (n %d): REL − RES + UNC − BS = %g", trial, n, d)
		}
		if d := math.Abs(direct - s.Brier); d > 1e-12 {
			t.Errorf("trial %d: Brier %v, direct %v", trial, s.Brier, direct)
		}
	}
}

func TestDebiasedCE(t *testing.T) {
	// Kumar, Liang and Ma's unbiased_square_ce with equal-mass bins
	// (testdata/calibration_references.py): 15 instances.
	p := []float64{0.05, 0.12, 0.2, 0.22, 0.31, 0.38, 0.45, 0.5, 0.52, 0.6, 0.66, 0.71, 0.8, 0.85, 0.9}
	y := []bool{false, false, true, false, false, true, false, true, true, false, true, true, true, true, false}
	f, err := NewForecasts(p, y)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		bins int
		want float64
	}{{3, -0.04241466666666667}, {5, -0.08912666666666667}} {
		s, err := f.Evaluate(tt.bins, nil)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "CE² debiased", s.CE2Debiased, tt.want, 1e-15)
		near(t, "CE debiased", s.CEDebiased, 0, 0)
	}
	// Hand-computed: one bin of 4 with p̄ = 0.25 and ȳ = 3/4:
	// (0.5)² − (3/4·1/4)/3 = 0.25 − 0.0625 = 0.1875.
	g, _ := NewForecasts([]float64{0.1, 0.2, 0.3, 0.4}, []bool{true, true, false, true})
	s, _ := g.Evaluate(1, nil)
	near(t, "CE² hand", s.CE2Debiased, 0.1875, 1e-15)
	near(t, "CE² plug-in hand", s.CE2Plugin, 0.25, 1e-15)
	near(t, "CE hand", s.CEDebiased, math.Sqrt(0.1875), 1e-15)
	near(t, "ECE hand", s.ECE, 0.5, 1e-15)
}

func TestDebiasedCEUnbiased(t *testing.T) {
	// On forecasts calibrated by construction (y ~ Bernoulli(p)) the
	// plug-in ECE is biased upward — its expectation is far above 0 with
	// 200 instances in 10 bins — while the debiased squared error averages
	// to about 0 (its expectation is exactly the binned squared error, 0
	// up to the spread of p within a bin).
	rng := rand.New(rand.NewPCG(11, 12))
	const n, trials = 200, 400
	var sumECE, sumCE2 float64
	p := make([]float64, n)
	y := make([]bool, n)
	for range trials {
		for i := range p {
			p[i] = 0.5 + 0.5*float64(i%2) // 0.5 and 1.0: exact bins
			y[i] = rng.Float64() < p[i]
		}
		f, _ := NewForecasts(p, y)
		s, _ := f.Evaluate(2, nil)
		sumECE += s.ECE
		sumCE2 += s.CE2Debiased
	}
	// E|ȳ − 0.5| for 100 fair coins is about 0.04 in the 0.5 bin; the
	// 1.0 bin is exact: ECE ≈ 0.02.
	if m := sumECE / trials; m < 0.015 {
		t.Errorf("mean ECE %v: the plug-in bias is missing", m)
	}
	// The debiased estimate: mean 0 with standard error about 1e-4.
	if m := sumCE2 / trials; math.Abs(m) > 5e-4 {
		t.Errorf("mean debiased CE² %v, want ≈ 0", m)
	}
}

func TestConsistency(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 400
	p := make([]float64, n)
	cal := make([]bool, n)
	over := make([]bool, n)
	for i := range p {
		p[i] = 0.3 + 0.7*rng.Float64()
		cal[i] = rng.Float64() < p[i]
		over[i] = rng.Float64() < p[i]-0.25 // forecasts 0.25 too high
	}
	o := BootstrapOptions{Resamples: 500, Seed: 1, Confidence: 0.95}
	f, _ := NewForecasts(p, cal)
	c, err := f.Consistency(10, o)
	if err != nil {
		t.Fatal(err)
	}
	if c.P < 0.05 {
		t.Errorf("calibrated forecasts: consistency p = %v", c.P)
	}
	if !(c.Mean > 0.01 && c.Mean < c.Upper) {
		t.Errorf("null ECE mean %v, upper %v", c.Mean, c.Upper)
	}
	g, _ := NewForecasts(p, over)
	d, _ := g.Consistency(10, o)
	if d.P > 0.01 || d.P < 1.0/501 {
		t.Errorf("miscalibrated forecasts: p = %v, want 1/501", d.P)
	}
	again, _ := g.Consistency(10, o)
	if again != d {
		t.Error("same seed, different result")
	}
}

func TestConsistencyByHand(t *testing.T) {
	o := BootstrapOptions{Resamples: 400, Seed: 3, Confidence: 0.95}
	// Forecasts of 0 and 1 leave nothing to chance: every simulated ECE
	// is 0, so a matching outcome gives p = 1 and a mismatch the
	// smallest p, 1/(1 + R).
	f, _ := NewForecasts([]float64{0, 1, 1, 0}, []bool{false, true, true, false})
	c, _ := f.Consistency(2, o)
	if c.Mean != 0 || c.Upper != 0 || c.P != 1 {
		t.Errorf("certain and right: %+v", c)
	}
	g, _ := NewForecasts([]float64{0, 1, 1, 0}, []bool{true, true, true, false})
	c, _ = g.Consistency(2, o)
	near(t, "certain and wrong p", c.P, 1.0/401, 1e-15)
	// One group of 400 at 0.3 (the binomial path), one bin: the simulated
	// ECE is |Y/400 − 0.3| with Y ~ Binomial(400, 0.3), whose mean is
	// about sqrt(2/π)·sqrt(0.3·0.7/400) = 0.01828 (normal approximation).
	p := make([]float64, 400)
	y := make([]bool, 400)
	for i := range p {
		p[i] = 0.3
		y[i] = i < 120
	}
	h, _ := NewForecasts(p, y)
	c, _ = h.Consistency(1, BootstrapOptions{Resamples: 4000, Seed: 4, Confidence: 0.95})
	near(t, "binomial null mean", c.Mean, math.Sqrt(2/math.Pi)*math.Sqrt(0.21/400), 0.001)
	near(t, "observed ECE 0: p", c.P, 1, 0)
}

func TestForecastsErrors(t *testing.T) {
	if _, err := NewForecasts([]float64{0.5}, nil); !errors.Is(err, ErrLength) {
		t.Errorf("length: %v", err)
	}
	if _, err := NewForecasts(nil, nil); !errors.Is(err, ErrTooFew) {
		t.Errorf("empty: %v", err)
	}
	for _, v := range []float64{-0.1, 1.1, math.NaN()} {
		if _, err := NewForecasts([]float64{v}, []bool{true}); err == nil {
			t.Errorf("p = %v accepted", v)
		}
	}
	f, _ := NewForecasts([]float64{0.5, 0.6}, []bool{true, false})
	if _, err := f.Evaluate(0, nil); err == nil {
		t.Error("0 bins accepted")
	}
	if _, err := f.Evaluate(2, []int{1}); !errors.Is(err, ErrLength) {
		t.Errorf("weights length: %v", err)
	}
	if _, err := f.Evaluate(2, []int{0, 0}); !errors.Is(err, ErrTooFew) {
		t.Errorf("zero weights: %v", err)
	}
	if _, err := f.Evaluate(2, []int{-1, 3}); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("negative weight: %v", err)
	}
}
