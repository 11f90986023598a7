package report

import (
	"errors"
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
// interquartile range of R's quantile type 7. It is R's bw.nrd0, including
// its fallbacks for degenerate data: when min(sd, IQR/1.34) is 0 it uses
// sd, then |x[0]|, then 1. x must hold at least two finite values.
func SilvermanBandwidth(x []float64) (float64, error) {
	n := len(x)
	if n < 2 {
		return 0, fmt.Errorf("bandwidth: need at least 2 values, have %d", n)
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("bandwidth: value %d is %v", i, v)
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
	iqr := quantile7(s, 0.75) - quantile7(s, 0.25)
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

// quantile7 returns the p-quantile of the sorted values s by linear
// interpolation between order statistics (Hyndman and Fan 1996, type 7; R's
// and numpy's default).
func quantile7(s []float64, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	h := float64(len(s)-1) * p
	i := int(math.Floor(h))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[i] + (h-float64(i))*(s[i+1]-s[i])
}

// errBandwidth reports a bandwidth that cannot smooth.
var errBandwidth = errors.New("bandwidth must be finite and > 0")

// GaussianKDE evaluates at each point of at the Gaussian kernel density
// estimate of the sample x with bandwidth h:
//
//	f(t) = 1/(n·h) · Σ_i φ((t − x_i)/h),  φ(u) = exp(−u²/2)/√(2π).
//
// The estimate integrates to 1 over the real line. It is computed exactly
// (no binning), in O(len(x)·len(at)).
func GaussianKDE(x []float64, h float64, at []float64) ([]float64, error) {
	if len(x) == 0 {
		return nil, errors.New("kde: no values")
	}
	if !(h > 0) || math.IsInf(h, 0) {
		return nil, fmt.Errorf("kde: bandwidth %v: %w", h, errBandwidth)
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
