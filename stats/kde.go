package stats

import (
	"fmt"
	"math"
	"slices"
)

// SilvermanBandwidth returns the bandwidth of Silverman's rule of thumb
// (Silverman 1986, eq. 3.31) for a Gaussian kernel density estimate of x:
//
//	h = 0.9 · min(sd, IQR/1.34) · n^(−1/5)
//
// with the sample standard deviation (n − 1 denominator) and the
// interquartile range of Quantile (R's type 7). It is R's bw.nrd0, including
// its fallbacks for degenerate data: when min(sd, IQR/1.34) is 0 it uses
// sd, then |x[0]|, then 1. x must hold at least two values, all finite
// (errors wrap ErrTooFew and ErrNotFinite).
func SilvermanBandwidth(x []float64) (float64, error) {
	n := len(x)
	if n < 2 {
		return 0, fmt.Errorf("bandwidth: need at least 2 values, have %d: %w", n, ErrTooFew)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("bandwidth: value %d is %v: %w", i, v, ErrNotFinite)
		}
	}
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(n)
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	s := slices.Clone(x)
	slices.Sort(s)
	iqr := Quantile(s, 0.75) - Quantile(s, 0.25)
	lo := min(sd, iqr/1.34)
	if lo == 0 {
		lo = sd
		if lo == 0 {
			lo = math.Abs(x[0])
			if lo == 0 {
				lo = 1
			}
		}
	}
	return 0.9 * lo * math.Pow(float64(n), -0.2), nil
}

// GaussianKDE evaluates at each point of at the Gaussian kernel density
// estimate of the sample x with bandwidth h:
//
//	f(t) = 1/(n·h) · Σ_i φ((t − x_i)/h),  φ(u) = exp(−u²/2)/√(2π).
//
// The estimate integrates to 1 over the real line. It is computed exactly
// (no binning), in O(len(x)·len(at)). x must not be empty (ErrTooFew) and h
// must be finite and > 0 (ErrNotFinite).
func GaussianKDE(x []float64, h float64, at []float64) ([]float64, error) {
	if len(x) == 0 {
		return nil, fmt.Errorf("kde: no values: %w", ErrTooFew)
	}
	if !(h > 0) || math.IsInf(h, 0) {
		return nil, fmt.Errorf("kde: bandwidth %v must be finite and > 0: %w", h, ErrNotFinite)
	}
	norm := 1 / (float64(len(x)) * h * math.Sqrt(2*math.Pi))
	out := make([]float64, len(at))
	for j, t := range at {
		var sum float64
		for _, v := range x {
			u := (t - v) / h
			sum += math.Exp(-u * u / 2)
		}
		out[j] = sum * norm
	}
	return out, nil
}
