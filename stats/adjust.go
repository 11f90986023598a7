package stats

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// validP returns the indices of the non-NaN p-values of p, checking that each
// lies in [0, 1].
func validP(p []float64) ([]int, error) {
	idx := make([]int, 0, len(p))
	for i, v := range p {
		if math.IsNaN(v) {
			continue
		}
		if v < 0 || v > 1 {
			return nil, fmt.Errorf("p[%d] = %v: %w", i, v, ErrInvalidP)
		}
		idx = append(idx, i)
	}
	return idx, nil
}

// BenjaminiHochberg returns the Benjamini–Hochberg (1995) adjusted p-values
// of p, in the order of p, exactly as R's p.adjust(p, method = "BH"):
// sorting the m non-NaN p-values in decreasing order, the adjusted value of
// the one of rank i is min(1, min over ranks j ≥ i of m·p(j)/j). NaN entries
// (R's NA) stay NaN and do not count in m. Rejecting the hypotheses whose
// adjusted value is ≤ q controls the false discovery rate at q for
// independent (or positively dependent) tests.
func BenjaminiHochberg(p []float64) ([]float64, error) {
	idx, err := validP(p)
	if err != nil {
		return nil, fmt.Errorf("stats: benjamini-hochberg: %w", err)
	}
	out := nanSlice(len(p))
	m := len(idx)
	// Stable sort by decreasing p, as R's order(p, decreasing = TRUE).
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p[b], p[a]) })
	running := math.Inf(1)
	for k, i := range idx {
		rank := m - k
		running = min(running, float64(m)/float64(rank)*p[i])
		out[i] = min(1, running)
	}
	return out, nil
}

// Holm returns Holm's (1979) step-down adjusted p-values of p, in the order of
// p, exactly as R's p.adjust(p, method = "holm"): sorting the m non-NaN
// p-values increasingly, the adjusted value of rank i is
// min(1, max over ranks j ≤ i of (m − j + 1)·p(j)). NaN entries stay NaN and
// do not count in m. It controls the family-wise error rate under any
// dependence.
func Holm(p []float64) ([]float64, error) {
	idx, err := validP(p)
	if err != nil {
		return nil, fmt.Errorf("stats: holm: %w", err)
	}
	out := nanSlice(len(p))
	m := len(idx)
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	running := 0.0
	for k, i := range idx {
		running = max(running, float64(m-k)*p[i])
		out[i] = min(1, running)
	}
	return out, nil
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}
