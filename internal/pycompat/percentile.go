package pycompat

import (
	"math"
	"slices"
)

// NumpyPercentile returns the p-th percentile (0 ≤ p ≤ 100) of x exactly as
// numpy.percentile(x, p) with the default method "linear" computes it:
// q = p/100, virtual index r = (n−1)·q into the sorted values, lo = ⌊r⌋,
// g = r − lo, and the interpolation NumPy uses (numpy _lerp):
// v[lo] + (v[lo+1]−v[lo])·g when g < 0.5, v[lo+1] − (v[lo+1]−v[lo])·(1−g)
// otherwise; r ≥ n−1 gives the maximum.
//
// x is not modified. The result is NaN when x is empty (NumPy raises), when
// p is NaN or outside [0, 100] (NumPy raises), or when x contains a NaN
// (NumPy returns NaN).
func NumpyPercentile(x []float64, p float64) float64 {
	n := len(x)
	if n == 0 || !(p >= 0 && p <= 100) {
		return math.NaN()
	}
	v := slices.Clone(x)
	for _, e := range v {
		if math.IsNaN(e) {
			return math.NaN()
		}
	}
	slices.Sort(v)
	q := p / 100
	r := float64(n-1) * q
	if r >= float64(n-1) {
		return v[n-1]
	}
	lo := math.Floor(r)
	i := int(lo)
	a, b := v[i], v[i+1]
	g := r - lo
	d := b - a
	if g >= 0.5 {
		return b - float64(d*(1-g))
	}
	return a + float64(d*g)
}
