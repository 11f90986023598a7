package confidence

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// This file holds the statistics of the length-fair stop rules (see
// docs/length-fair-confidence.md): statistics of a trace's prefix, which
// can be compared between traces of different lengths because they are
// computed over the same number of tokens, and the normal-theory prediction
// bound that turns a handful of warm-up values into a threshold that a new
// trace falls below with the intended probability.

// PrefixMeans returns the means of the first d confidences of confs for
// d = 1 … min(len(confs), n): out[d−1] is the mean of confs[:d]. The sums are
// compensated (Neumaier), as in Summarize. Non-finite confidences are an
// error.
func PrefixMeans[F Float](confs []F, n int) ([]float64, error) {
	m := min(len(confs), max(n, 0))
	out := make([]float64, m)
	var s neumaier
	for i := range m {
		v := float64(confs[i])
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("confidence: token %d: confidence %v is not finite", i, v)
		}
		s.add(v)
		out[i] = s.value() / float64(i+1)
	}
	return out, nil
}

// RunningLowest returns the lowest group confidence of every prefix of
// confs: out[t−1] is what Summarize reports as LowestGroup for confs[:t]
// with window w — the mean of the first t confidences while t < w, the lowest
// full-window mean from t = w on (non-increasing from there). It uses
// Window, so out[len−1] equals Summarize's LowestGroup and the online
// monitor's Window.Lowest bit for bit. Non-finite confidences are an error.
func RunningLowest[F Float](confs []F, w int) ([]float64, error) {
	g, err := NewWindow(w)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(confs))
	for i, c := range confs {
		v := float64(c)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("confidence: token %d: confidence %v is not finite", i, v)
		}
		mean, full := g.Push(v)
		if full {
			mean, _, _ = g.Lowest()
		}
		out[i] = mean
	}
	return out, nil
}

// PredictionBound returns the lower normal-theory prediction bound that a
// new value from the distribution of the sample x falls below with
// probability 1 − keep:
//
//	x̄ + t_{n−1}(1 − keep) · s · √(1 + 1/n)
//
// where x̄ and s are the mean and the standard deviation (n − 1 divisor) of
// the n values of x and t_{n−1}(q) is the q-quantile of Student's t with n − 1
// degrees of freedom. When x is a sample from a normal distribution and the
// new value is an independent draw from the same distribution, the new value
// is below the bound with probability exactly 1 − keep, whatever n ≥ 2 (the
// one-sided prediction interval for a single future observation; Hahn and
// Meeker, Statistical Intervals, Wiley 1991, ch. 4). An empirical percentile
// of a few values has no such property: the numpy "linear" 10th percentile of
// four values is passed by about a quarter of new draws, not a tenth.
//
// keep = 1 gives −Inf (nothing falls below). It is an error when keep is
// outside (0, 1], when x has fewer than 2 values, or when a value is not
// finite.
func PredictionBound(x []float64, keep float64) (float64, error) {
	return NewPredictor(keep).Bound(x)
}

// Predictor computes prediction bounds (PredictionBound) for one keep
// fraction, caching the Student t quantile of each sample size: a stop
// rule computes a bound per token position, mostly from samples of the same
// size. A Predictor is not safe for concurrent use.
type Predictor struct {
	keep   float64
	factor map[int]float64
}

// NewPredictor returns a Predictor for the keep fraction.
func NewPredictor(keep float64) *Predictor {
	return &Predictor{keep: keep, factor: map[int]float64{}}
}

// Bound returns PredictionBound(x, keep).
func (p *Predictor) Bound(x []float64) (float64, error) {
	keep := p.keep
	if !(keep > 0 && keep <= 1) {
		return 0, fmt.Errorf("confidence: keep fraction %v: must be in (0, 1]", keep)
	}
	n := len(x)
	if n < 2 {
		return 0, fmt.Errorf("confidence: prediction bound: %d values, need at least 2", n)
	}
	var s neumaier
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("confidence: prediction bound: value %d is %v", i, v)
		}
		s.add(v)
	}
	mean := s.value() / float64(n)
	var ss neumaier
	for _, v := range x {
		d := v - mean
		ss.add(d * d)
	}
	sd := math.Sqrt(ss.value() / float64(n-1))
	if keep == 1 {
		return math.Inf(-1), nil
	}
	f, ok := p.factor[n]
	if !ok {
		f = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(1-keep) * math.Sqrt(1+1/float64(n))
		p.factor[n] = f
	}
	return mean + f*sd, nil
}
