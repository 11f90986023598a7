package stats

import "math"

// Quantile returns the p-quantile of the sorted values s by linear
// interpolation between order statistics: Hyndman and Fan (1996) type 7, the
// default of R's quantile and of numpy.quantile (gonum's stat.Quantile offers
// only the empirical rule and a different interpolation). s must be sorted
// ascending; p is in [0, 1]. An empty s gives NaN.
func Quantile(s []float64, p float64) float64 {
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
