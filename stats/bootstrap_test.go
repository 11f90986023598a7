package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// weightedMean is the mean of x with instance counts.
func weightedMean(x []float64, counts []int) float64 {
	var s, n float64
	for i, c := range counts {
		s += float64(c) * x[i]
		n += float64(c)
	}
	return s / n
}

func TestBootstrapEstimatesIdealSE(t *testing.T) {
	// Efron and Tibshirani (1993, ch. 6): the ideal
	// bootstrap standard error of the mean is sqrt(Σ(x − x̄)²)/n; with
	// R = 4000 resamples its Monte Carlo estimate is within a few percent.
	rng := rand.New(rand.NewPCG(21, 22))
	x := make([]float64, 150)
	for i := range x {
		x[i] = rng.ExpFloat64()
	}
	o := BootstrapOptions{Resamples: 4000, Seed: 5, Confidence: 0.9}
	var reps []float64
	calls := 0
	est, err := BootstrapEstimates(len(x), 1, o, func(counts []int, out []float64) {
		total := 0
		for _, c := range counts {
			total += c
		}
		if total != len(x) {
			t.Fatalf("a resample of %d draws, want %d", total, len(x))
		}
		out[0] = weightedMean(x, counts)
		if calls > 0 {
			reps = append(reps, out[0])
		}
		calls++
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1+o.Resamples {
		t.Fatalf("%d calls, want %d", calls, 1+o.Resamples)
	}
	m := Mean(x)
	near(t, "value", est[0].Value, m, 1e-12)
	var ss float64
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	ideal := math.Sqrt(ss) / float64(len(x))
	se := math.Sqrt(Variance(reps))
	if math.Abs(se/ideal-1) > 0.06 {
		t.Errorf("bootstrap SE %v, ideal %v", se, ideal)
	}
	sorted := slices.Clone(reps)
	slices.Sort(sorted)
	near(t, "lo", est[0].Lo, Quantile(sorted, 0.05), 0)
	near(t, "hi", est[0].Hi, Quantile(sorted, 0.95), 0)

	again, _ := BootstrapEstimates(len(x), 1, o, func(counts []int, out []float64) { out[0] = weightedMean(x, counts) })
	if again[0] != est[0] {
		t.Errorf("same seed: %+v and %+v", again[0], est[0])
	}
	o.Seed = 6
	other, _ := BootstrapEstimates(len(x), 1, o, func(counts []int, out []float64) { out[0] = weightedMean(x, counts) })
	if other[0] == est[0] {
		t.Error("seeds 5 and 6 give the same interval")
	}
}

func TestBootstrapTwoPoints(t *testing.T) {
	// By hand: the mean of {0, 1} resampled is 0, ½, 1 with probabilities
	// ¼, ½, ¼, so the 95% percentile interval is [0, 1].
	x := []float64{0, 1}
	est, err := BootstrapEstimates(2, 1, BootstrapOptions{Resamples: 2000, Seed: 1, Confidence: 0.95},
		func(counts []int, out []float64) { out[0] = weightedMean(x, counts) })
	if err != nil {
		t.Fatal(err)
	}
	if est[0].Value != 0.5 || est[0].Lo != 0 || est[0].Hi != 1 {
		t.Errorf("got %+v, want 0.5 [0, 1]", est[0])
	}
}

func TestEstimateBasic(t *testing.T) {
	// By hand: value 0.1, percentile interval [0.12, 0.2]: the plug-in's
	// basic interval is [0.2 − 0.2, 0.2 − 0.12] = [0, 0.08]; with the
	// bootstrap world's truth 0.15 it is [0.05, 0.13].
	e := Estimate{Value: 0.1, Lo: 0.12, Hi: 0.2}
	lo, hi := e.Basic(e.Value)
	near(t, "basic lo", lo, 0, 1e-15)
	near(t, "basic hi", hi, 0.08, 1e-15)
	lo, hi = e.Basic(0.15)
	near(t, "basic lo (truth)", lo, 0.05, 1e-15)
	near(t, "basic hi (truth)", hi, 0.13, 1e-15)
}

func TestBootstrapUndefined(t *testing.T) {
	// A statistic undefined in some resamples (here: when instance 0 is
	// not drawn, probability (1 − 1/n)^n ≈ e⁻¹) is left out and counted.
	x := []float64{1, 2, 3, 4, 5}
	est, err := BootstrapEstimates(5, 1, BootstrapOptions{Resamples: 3000, Seed: 2, Confidence: 0.95},
		func(counts []int, out []float64) {
			out[0] = weightedMean(x, counts)
			if counts[0] == 0 {
				out[0] = math.NaN()
			}
		})
	if err != nil {
		t.Fatal(err)
	}
	share := float64(est[0].Undefined) / 3000
	if math.Abs(share-math.Pow(0.8, 5)) > 0.03 {
		t.Errorf("undefined share %v, want ≈ %v", share, math.Pow(0.8, 5))
	}
	if math.IsNaN(est[0].Lo) || math.IsNaN(est[0].Hi) {
		t.Errorf("interval %+v", est[0])
	}
	if _, err := BootstrapEstimates(5, 1, BootstrapOptions{Resamples: 0, Confidence: 0.95}, nil); err == nil {
		t.Error("0 resamples accepted")
	}
	if _, err := BootstrapEstimates(5, 1, BootstrapOptions{Resamples: 10, Confidence: 1}, nil); err == nil {
		t.Error("confidence 1 accepted")
	}
}

func TestPairedBootstrap(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	n := 200
	base := make([]float64, n)
	a := make([]float64, n)
	b := make([]float64, n)
	for i := range base {
		base[i] = 5 * rng.NormFloat64() // shared instance difficulty
		a[i] = base[i] + rng.NormFloat64() + 0.3
		b[i] = base[i] + rng.NormFloat64()
	}
	o := BootstrapOptions{Resamples: 4000, Seed: 9, Confidence: 0.95}
	var reps []float64
	first := true
	res, err := PairedBootstrap(n, 2, o, func(counts []int, sa, sb []float64) {
		sa[0], sb[0] = weightedMean(a, counts), weightedMean(b, counts)
		// A constant difference: statistic 1 of A is that of B plus 2.
		sa[1], sb[1] = weightedMean(b, counts)+2, weightedMean(b, counts)
		if !first {
			reps = append(reps, sa[0]-sb[0])
		}
		first = false
	})
	if err != nil {
		t.Fatal(err)
	}
	d := make([]float64, n)
	for i := range d {
		d[i] = a[i] - b[i]
	}
	md := Mean(d)
	near(t, "diff", res[0].Diff, md, 1e-12)
	near(t, "A − B", res[0].A-res[0].B, res[0].Diff, 0)
	// Pairing: the resampled differences have the ideal bootstrap SE of
	// the mean of the per-instance differences, sqrt(Σ(d − d̄)²)/n —
	// about 0.1 here, where unpaired resampling would give about 0.5.
	var ss float64
	for _, v := range d {
		ss += (v - md) * (v - md)
	}
	ideal := math.Sqrt(ss) / float64(n)
	if se := math.Sqrt(Variance(reps)); math.Abs(se/ideal-1) > 0.06 {
		t.Errorf("paired SE %v, ideal %v", se, ideal)
	}
	if !(res[0].Lo < md && md < res[0].Hi && res[0].Lo > 0) {
		t.Errorf("interval [%v, %v] around %v: want it above 0", res[0].Lo, res[0].Hi, md)
	}
	if res[0].P > 0.05 {
		t.Errorf("p = %v for a clear difference", res[0].P)
	}
	// The constant difference: interval [2, 2] and the smallest p-value,
	// 2·(1 + 0)/(1 + R).
	near(t, "constant lo", res[1].Lo, 2, 1e-12)
	near(t, "constant hi", res[1].Hi, 2, 1e-12)
	near(t, "constant p", res[1].P, 2.0/4001, 1e-15)
	near(t, "constant basic lo", res[1].BasicLo, 2, 1e-12)
	near(t, "constant basic hi", res[1].BasicHi, 2, 1e-12)
	near(t, "constant basic p", res[1].BasicP, 2.0/4001, 1e-15)
	// The basic interval reflects the percentile one about the estimate.
	near(t, "basic lo", res[0].BasicLo, 2*res[0].Diff-res[0].Hi, 1e-15)
	near(t, "basic hi", res[0].BasicHi, 2*res[0].Diff-res[0].Lo, 1e-15)
	if res[0].BasicP > 0.05 {
		t.Errorf("basic p = %v for a clear difference", res[0].BasicP)
	}

	// No difference at all: every Δ* = 0, p = 1.
	same, _ := PairedBootstrap(n, 1, o, func(counts []int, sa, sb []float64) {
		sa[0] = weightedMean(a, counts)
		sb[0] = sa[0]
	})
	if same[0].Diff != 0 || same[0].Lo != 0 || same[0].Hi != 0 || same[0].P != 1 {
		t.Errorf("identical: %+v", same[0])
	}
	// A statistic undefined on the data stays undefined.
	nan, _ := PairedBootstrap(n, 1, o, func(counts []int, sa, sb []float64) { sa[0], sb[0] = math.NaN(), 1 })
	if !math.IsNaN(nan[0].Diff) || !math.IsNaN(nan[0].P) || !math.IsNaN(nan[0].Lo) {
		t.Errorf("NaN statistic: %+v", nan[0])
	}
}
