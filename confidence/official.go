package confidence

import (
	"fmt"
	"slices"

	"github.com/deepconf/deepconf/internal/pycompat"
)

// OfficialLeastGrouped returns compute_least_grouped(confs, w) of the
// official utils.py: the means of all stride-1 windows confs[i:i+w], each
// summed afresh with Python's builtin sum and rounded to 3 decimals with
// Python's round; [sum(confs)/len(confs)] (unrounded) when len(confs) < w;
// [0] for an empty slice. Its minimum is the official min_conf.
//
// Python's sum is CPython ≥ 3.12's compensated (Neumaier) sum, the version
// the paper pins (Python 3.12, App. G.1); under Python ≤ 3.11, which sums
// naively, a window mean can differ in the last bit and, rarely, after
// rounding. The cost is O(len(confs)·w).
func OfficialLeastGrouped(confs []float64, w int) ([]float64, error) {
	if w < 1 {
		return nil, fmt.Errorf("confidence: window size %d: must be ≥ 1", w)
	}
	n := len(confs)
	if n == 0 {
		return []float64{0}, nil
	}
	if n < w {
		return []float64{pycompat.PySum(confs) / float64(n)}, nil
	}
	means := make([]float64, n-w+1)
	for i := range means {
		means[i] = pycompat.Round(pycompat.PySum(confs[i:i+w]) / float64(w))
	}
	return means, nil
}

// officialMean is calculate_mean_confidence: np.mean, 0 when empty.
func officialMean(confs []float64) float64 {
	if len(confs) == 0 {
		return 0
	}
	return pycompat.NumpyMean(confs)
}

// officialTail is calculate_tail_confidence(trace, tail_tokens=t), t ≥ 1.
func officialTail(confs []float64, t int) float64 {
	if len(confs) > t {
		confs = confs[len(confs)-t:]
	}
	return officialMean(confs)
}

// officialBottomWindow is calculate_bottom_window_confidence(trace, w,
// bottomPercent) for w ≥ 1 and bottomPercent == −1 or in (0, 1].
func officialBottomWindow(confs []float64, w int, bottomPercent float64) float64 {
	n := len(confs)
	if n == 0 {
		return 0
	}
	if n < w {
		return pycompat.NumpyMean(confs)
	}
	means := make([]float64, 0, n-w+1)
	cur := pycompat.PySum(confs[:w])
	means = append(means, cur/float64(w))
	for i := 1; i < n-w+1; i++ {
		cur = cur - confs[i-1] + confs[i+w-1]
		means = append(means, cur/float64(w))
	}
	if bottomPercent == -1 {
		return slices.Min(means)
	}
	b := max(1, int(float64(len(means))*bottomPercent))
	if b == 1 {
		return slices.Min(means)
	}
	// np.partition(means, b-1)[:b]: the b smallest, order unspecified.
	slices.Sort(means)
	return pycompat.NumpyMean(means[:b])
}
