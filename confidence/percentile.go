package confidence

import (
	"fmt"
	"math"

	"github.com/deepconf/deepconf/internal/pycompat"
)

// Percentile returns the p-th percentile (0 ≤ p ≤ 100) of x exactly as
// numpy.percentile(x, p) with the default method "linear" computes it
// (pycompat.NumpyPercentile): the percentile of DeepConf's thresholds. x is
// not modified. The result is NaN when x is empty, when p is NaN or outside
// [0, 100], or when x contains a NaN.
func Percentile(x []float64, p float64) float64 {
	return pycompat.NumpyPercentile(x, p)
}

// StopThreshold returns the early-stop threshold s of DeepConf's online
// algorithm from the warm-up traces' lowest group confidences: the
// (100 − 100·keep)-th percentile, where keep = η is the fraction of traces
// that should pass (paper: η = 0.1 "DeepConf-low" gives the 90th
// percentile, η = 0.9 "DeepConf-high" the 10th). 100 − 100·keep gives
// exactly the integer percentile the official main branch passes for
// η = 0.1 and 0.9 (np.percentile(min_confs, 100 − confidence_percentile)).
//
// It is an error when keep is outside (0, 1], when there are no warm-up
// values, or when one is not finite.
func StopThreshold(warmup []float64, keep float64) (float64, error) {
	if !(keep > 0 && keep <= 1) {
		return 0, fmt.Errorf("confidence: keep fraction %v: must be in (0, 1]", keep)
	}
	if len(warmup) == 0 {
		return 0, fmt.Errorf("confidence: stop threshold: no warm-up confidences")
	}
	for i, c := range warmup {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return 0, fmt.Errorf("confidence: stop threshold: warm-up confidence %d is %v", i, c)
		}
	}
	return Percentile(warmup, 100-100*keep), nil
}
