package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// BootstrapOptions configure a nonparametric bootstrap.
type BootstrapOptions struct {
	// Resamples is the number of resamples (≥ 1; DefaultResamples is
	// customary) and Seed the seed of their random source.
	Resamples int
	Seed      uint64
	// Confidence is the level of the percentile intervals, in (0, 1).
	Confidence float64
}

func (o BootstrapOptions) check() error {
	if err := checkConfidence(o.Confidence); err != nil {
		return err
	}
	if o.Resamples < 1 {
		return fmt.Errorf("%d resamples: %w", o.Resamples, ErrTooFew)
	}
	return nil
}

// Estimate is a statistic with its percentile bootstrap interval.
type Estimate struct {
	// Value is the statistic on the data.
	Value float64
	// Lo and Hi are the (1 − Confidence)/2 and (1 + Confidence)/2
	// quantiles (R's type 7) of the statistic over the resamples where it
	// is defined; NaN when it is defined in none.
	Lo, Hi float64
	// Undefined counts the resamples where the statistic was NaN (such as
	// an AUROC with one class only), left out of the interval.
	Undefined int
}

// Basic returns the basic (reverse-percentile) bootstrap interval
// [Value + truth − Hi, Value + truth − Lo] (Davison and Hinkley 1997,
// §5.2), which assumes that the estimate's error Value − θ is
// distributed as the resampled estimates' error θ* − truth, truth being
// the parameter's value on the empirical distribution. For a plug-in
// estimator truth = Value and the interval is [2·Value − Hi, 2·Value −
// Lo]: unlike the percentile interval it moves against a bias of the
// estimator, such as the upward bias of a calibration error, instead of
// repeating it. For an estimator that corrects the plug-in's bias (Kumar,
// Liang and Ma's debiased calibration error), truth is the plug-in value,
// as in their bootstrap.
func (e Estimate) Basic(truth float64) (lo, hi float64) {
	return e.Value + truth - e.Hi, e.Value + truth - e.Lo
}

// resample calls f with the instance counts of each resample: n draws with
// replacement from n instances, counts[i] the number of times instance i
// was drawn. The counts come from a math/rand/v2 PCG source seeded with
// o.Seed, so the same n and options give the same resamples, whatever the
// statistic.
func resample(n int, o BootstrapOptions, f func(b int, counts []int)) {
	rng := rand.New(rand.NewPCG(o.Seed, bootstrapStream))
	counts := make([]int, n)
	for b := range o.Resamples {
		clear(counts)
		for range n {
			counts[rng.IntN(n)]++
		}
		f(b, counts)
	}
}

// ones returns the counts of the data: every instance once.
func ones(n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = 1
	}
	return c
}

// replicates returns room for k statistics over r resamples.
func replicates(k, r int) [][]float64 {
	reps := make([][]float64, k)
	for j := range reps {
		reps[j] = make([]float64, r)
	}
	return reps
}

// percentile returns the estimate of value from its replicates (sorted in
// place).
func percentile(value float64, reps []float64, confidence float64) Estimate {
	e := Estimate{Value: value, Lo: math.NaN(), Hi: math.NaN()}
	def := reps[:0]
	for _, r := range reps {
		if math.IsNaN(r) {
			e.Undefined++
		} else {
			def = append(def, r)
		}
	}
	if len(def) > 0 {
		slices.Sort(def)
		alpha := 1 - confidence
		e.Lo, e.Hi = Quantile(def, alpha/2), Quantile(def, 1-alpha/2)
	}
	return e
}

// BootstrapEstimates computes k statistics of n instances with percentile
// bootstrap intervals (Efron and Tibshirani 1993, ch. 13): stat writes the k
// statistics for the instance counts it is given into out — first with
// every count 1 (the data), then for each resample. One set of resamples
// serves all k statistics. stat must treat an instance of count c as c
// copies of it, and must not keep counts or out.
func BootstrapEstimates(n, k int, o BootstrapOptions, stat func(counts []int, out []float64)) ([]Estimate, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("stats: bootstrap: %w", err)
	}
	if n < 1 || k < 1 {
		return nil, fmt.Errorf("stats: bootstrap: %d instances, %d statistics: %w", n, k, ErrTooFew)
	}
	value := make([]float64, k)
	stat(ones(n), value)
	reps := replicates(k, o.Resamples)
	out := make([]float64, k)
	resample(n, o, func(b int, counts []int) {
		stat(counts, out)
		for j, v := range out {
			reps[j][b] = v
		}
	})
	est := make([]Estimate, k)
	for j := range est {
		est[j] = percentile(value[j], reps[j], o.Confidence)
	}
	return est, nil
}

// PairedDifference is the difference A − B of a statistic computed on the
// same instances for two sets of scores (two models), with a paired
// bootstrap interval and p-value.
type PairedDifference struct {
	// A and B are the statistic on the data, Diff = A − B.
	A, B, Diff float64
	// Lo and Hi are the percentile interval of the resampled differences.
	Lo, Hi float64
	// BasicLo and BasicHi are the basic interval 2·Diff − Hi, 2·Diff − Lo
	// (see Estimate.Basic), for statistics whose estimates are biased,
	// and BasicP its p-value, 2·min(1 + #{Δ* ≥ 2·Diff}, 1 + #{Δ* ≤
	// 2·Diff})/(1 + R).
	BasicLo, BasicHi, BasicP float64
	// P is the two-sided bootstrap p-value of H0: no difference, from
	// inverting the percentile interval: 2·min(1 + #{Δ* ≤ 0}, 1 + #{Δ* ≥
	// 0})/(1 + R), at most 1, over the R resamples where Δ* is defined:
	// about the smallest α at which the 1 − α percentile interval excludes
	// 0 (the +1, as in Davison and Hinkley 1997, ch. 4, keeps a finite
	// number of resamples from claiming p = 0; the smallest value is
	// 2/(1 + R)).
	P         float64
	Undefined int
}

// PairedBootstrap computes k statistics on the same n instances under two
// sets of scores and bootstraps their differences with paired resamples:
// every resample draws instances, and both statistics are computed on the
// same draw, so that what the two share (the instances' difficulty)
// cancels in the difference. stat writes the k statistics for A into a and
// for B into b, for the counts it is given (every count 1 first: the
// data). Statistics that are NaN on the data give NaN throughout.
func PairedBootstrap(n, k int, o BootstrapOptions, stat func(counts []int, a, b []float64)) ([]PairedDifference, error) {
	if err := o.check(); err != nil {
		return nil, fmt.Errorf("stats: paired bootstrap: %w", err)
	}
	if n < 1 || k < 1 {
		return nil, fmt.Errorf("stats: paired bootstrap: %d instances, %d statistics: %w", n, k, ErrTooFew)
	}
	va, vb := make([]float64, k), make([]float64, k)
	stat(ones(n), va, vb)
	reps := replicates(k, o.Resamples)
	a, b := make([]float64, k), make([]float64, k)
	resample(n, o, func(r int, counts []int) {
		stat(counts, a, b)
		for j := range a {
			reps[j][r] = a[j] - b[j]
		}
	})
	out := make([]PairedDifference, k)
	for j := range out {
		d := va[j] - vb[j]
		// Count the signs before percentile sorts and compacts reps[j].
		le, ge, leB, geB := 0, 0, 0, 0
		for _, r := range reps[j] {
			if r <= 0 {
				le++
			}
			if r >= 0 {
				ge++
			}
			if r <= 2*d {
				leB++
			}
			if r >= 2*d {
				geB++
			}
		}
		e := percentile(d, reps[j], o.Confidence)
		pd := PairedDifference{A: va[j], B: vb[j], Diff: d, Lo: e.Lo, Hi: e.Hi, P: math.NaN(),
			BasicP: math.NaN(), Undefined: e.Undefined}
		pd.BasicLo, pd.BasicHi = e.Basic(d)
		if math.IsNaN(d) {
			pd.Lo, pd.Hi, pd.BasicLo, pd.BasicHi = math.NaN(), math.NaN(), math.NaN(), math.NaN()
		} else if def := o.Resamples - e.Undefined; def > 0 {
			pd.P = math.Min(1, 2*float64(1+min(le, ge))/float64(1+def))
			pd.BasicP = math.Min(1, 2*float64(1+min(leB, geB))/float64(1+def))
		}
		out[j] = pd
	}
	return out, nil
}
