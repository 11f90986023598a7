package stats

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
)

// Isotonic regression is written here because gonum has none. The fit
// follows scikit-learn's IsotonicRegression (increasing, out_of_bounds =
// "clip"), so that its documented behaviour is the reference of the tests.

// IsotonicMap is a non-decreasing function fitted by weighted isotonic
// regression: the values Y at the distinct abscissae X (both increasing,
// Y non-decreasing), linearly interpolated between them and constant beyond
// the ends.
type IsotonicMap struct {
	X, Y []float64
}

// FitIsotonic fits a non-decreasing function to the points (x[i], y[i]) with
// weights w[i] (nil: all 1) by the pool-adjacent-violators algorithm (Ayer
// et al. 1955; Barlow et al. 1972): it minimises Σ w[i]·(y[i] − f(x[i]))²
// over non-decreasing f. Points with equal x are first replaced by one point
// at their weighted mean with their summed weight, so tied abscissae get one
// fitted value (de Leeuw's secondary approach, as scikit-learn does).
// Points of weight 0 are left out. Every value must be finite, every
// weight ≥ 0, and at least one weight positive.
//
// The map keeps only the ends of each constant run of the fit, which leaves
// Predict unchanged (scikit-learn's X_thresholds_ and y_thresholds_).
func FitIsotonic(x, y, w []float64) (*IsotonicMap, error) {
	if len(x) != len(y) || (w != nil && len(w) != len(x)) {
		return nil, fmt.Errorf("stats: isotonic: %d x, %d y, %d weights: %w", len(x), len(y), len(w), ErrLength)
	}
	if err := checkFinite("x", x); err != nil {
		return nil, fmt.Errorf("stats: isotonic: %w", err)
	}
	if err := checkFinite("y", y); err != nil {
		return nil, fmt.Errorf("stats: isotonic: %w", err)
	}
	weight := func(i int) float64 {
		if w == nil {
			return 1
		}
		return w[i]
	}
	idx := make([]int, 0, len(x))
	for i := range x {
		wi := weight(i)
		if !(wi >= 0) || math.IsInf(wi, 0) {
			return nil, fmt.Errorf("stats: isotonic: weight[%d] = %v: want a finite weight ≥ 0", i, wi)
		}
		if wi > 0 {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, fmt.Errorf("stats: isotonic: no point with a positive weight: %w", ErrTooFew)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(x[a], x[b]) })
	// Pool tied abscissae, then run PAV on the pooled points.
	var xs []float64
	var blocks []pavBlock
	for j := 0; j < len(idx); {
		k := j
		var sw, swy float64
		for ; k < len(idx) && x[idx[k]] == x[idx[j]]; k++ {
			wi := weight(idx[k])
			sw += wi
			swy += wi * y[idx[k]]
		}
		xs = append(xs, x[idx[j]])
		blocks = append(blocks, pavBlock{mean: swy / sw, weight: sw, n: 1})
		j = k
	}
	fitted := pav(blocks)
	// Keep the ends of every constant run (the interior points lie on a
	// flat segment of the interpolation).
	m := &IsotonicMap{}
	for i := range xs {
		if i > 0 && i < len(xs)-1 && fitted[i] == fitted[i-1] && fitted[i] == fitted[i+1] {
			continue
		}
		m.X = append(m.X, xs[i])
		m.Y = append(m.Y, fitted[i])
	}
	return m, nil
}

// pavBlock is a pooled run of points: its weighted mean, total weight and
// number of points.
type pavBlock struct {
	mean, weight float64
	n            int
}

// pav returns the weighted isotonic (non-decreasing) fit of the blocks'
// means, one value per input block, by pooling adjacent violators with a
// stack: each new point is merged with its predecessor while the
// predecessor's mean is larger.
func pav(points []pavBlock) []float64 {
	stack := make([]pavBlock, 0, len(points))
	for _, p := range points {
		stack = append(stack, p)
		for len(stack) > 1 && stack[len(stack)-2].mean > stack[len(stack)-1].mean {
			a, b := stack[len(stack)-2], stack[len(stack)-1]
			w := a.weight + b.weight
			stack[len(stack)-2] = pavBlock{mean: (a.weight*a.mean + b.weight*b.mean) / w, weight: w, n: a.n + b.n}
			stack = stack[:len(stack)-1]
		}
	}
	out := make([]float64, 0, len(points))
	for _, b := range stack {
		for range b.n {
			out = append(out, b.mean)
		}
	}
	return out
}

// Predict returns the fitted value at x: linear interpolation between the
// fitted points, Y[0] below X[0] and the last Y above the last X
// (scikit-learn's predict with out_of_bounds = "clip"). NaN gives NaN.
func (m *IsotonicMap) Predict(x float64) float64 {
	n := len(m.X)
	switch {
	case math.IsNaN(x):
		return math.NaN()
	case x <= m.X[0]:
		return m.Y[0]
	case x >= m.X[n-1]:
		return m.Y[n-1]
	}
	i := sort.SearchFloat64s(m.X, x) // X[i-1] < x ≤ X[i]
	if m.X[i] == x {
		return m.Y[i]
	}
	t := (x - m.X[i-1]) / (m.X[i] - m.X[i-1])
	return m.Y[i-1] + t*(m.Y[i]-m.Y[i-1])
}
