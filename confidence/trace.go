package confidence

import (
	"fmt"
	"math"
	"slices"
)

// Float is the element type of stored per-token confidences.
type Float interface {
	~float32 | ~float64
}

// StatsOptions configures Summarize.
type StatsOptions struct {
	// Window is the group size W ≥ 1 (paper: PaperWindow = 2048).
	Window int
	// Tail is the number of final tokens T ≥ 1 of the tail confidence
	// (paper: PaperTail = 2048).
	Tail int
	// BottomFraction is the fraction of lowest window means averaged by
	// TraceStats.Bottom, in (0, 1] (paper: PaperBottomFraction = 0.1).
	// With Official set, −1 is also accepted and, as in the official
	// calculate_bottom_window_confidence, selects the minimum window
	// mean.
	BottomFraction float64
	// Official computes every statistic exactly as the official utils.py
	// does, rounding included (see Summarize).
	Official bool
}

func (o StatsOptions) validate() error {
	switch {
	case o.Window < 1:
		return fmt.Errorf("confidence: window size %d: must be ≥ 1", o.Window)
	case o.Tail < 1:
		return fmt.Errorf("confidence: tail size %d: must be ≥ 1", o.Tail)
	case o.Official && o.BottomFraction == -1:
		return nil
	case !(o.BottomFraction > 0 && o.BottomFraction <= 1):
		return fmt.Errorf("confidence: bottom fraction %v: must be in (0, 1]", o.BottomFraction)
	}
	return nil
}

// TraceStats are the trace-level confidences of one finished trace.
type TraceStats struct {
	// N is the number of token confidences.
	N int `json:"n"`
	// Empty reports a trace without any token confidence; every
	// statistic is then 0, as in the official code.
	Empty bool `json:"empty"`
	// Windows is the number of full stride-1 windows, N−W+1, or 0 when
	// N < W.
	Windows int `json:"windows"`
	// Mean is C_avg, the mean of all token confidences.
	Mean float64 `json:"mean"`
	// LowestGroup is C_least, the lowest mean of a full window; the mean
	// of all tokens when N < W.
	LowestGroup float64 `json:"lowest_group"`
	// Bottom is the mean of the max(1, ⌊BottomFraction·Windows⌋) lowest
	// window means (the paper's bottom-10% group confidence); the mean of
	// all tokens when N < W.
	Bottom float64 `json:"bottom"`
	// Tail is the mean of the last T token confidences, or of all when
	// N ≤ T.
	Tail float64 `json:"tail"`
}

// Summarize computes the trace statistics of the token confidences confs
// (stored as float64 or float32). Non-finite confidences are an error.
//
// Native mode uses compensated (Neumaier) sums and the same Window as the
// online monitor, so LowestGroup equals what a Window fed with confs reports
// from Lowest. The count of bottom windows is max(1, int(fraction·windows)),
// the official expression.
//
// With o.Official the statistics are those of the official
// facebookresearch/deepconf utils.py, bit for bit where Python defines the
// result:
//   - Mean = calculate_mean_confidence: np.mean (pairwise summation);
//   - Tail = calculate_tail_confidence: np.mean of confs[-T:];
//   - Bottom = calculate_bottom_window_confidence: the first window summed
//     with Python's sum, the next ones by the running update
//     (s − confs[i−1]) + confs[i+W−1], unrounded means; N < W gives
//     np.mean(confs); one bottom window gives the minimum; more give
//     np.mean of the np.partition result, whose order NumPy leaves
//     unspecified (summed here in ascending order, so the last bit may
//     differ);
//   - LowestGroup = min(compute_least_grouped(confs, W)), the official
//     online min_conf: every window summed afresh with Python's sum and its
//     mean rounded to 3 decimals; N < W gives sum(confs)/N unrounded. This
//     costs O(N·W).
//
// Python's sum is taken as in CPython ≥ 3.12 (see OfficialLeastGrouped).
func Summarize[F Float](confs []F, o StatsOptions) (TraceStats, error) {
	if err := o.validate(); err != nil {
		return TraceStats{}, err
	}
	for i, c := range confs {
		if v := float64(c); math.IsNaN(v) || math.IsInf(v, 0) {
			return TraceStats{}, fmt.Errorf("confidence: token %d: confidence %v is not finite", i, v)
		}
	}
	n := len(confs)
	st := TraceStats{N: n, Empty: n == 0}
	if n == 0 {
		return st, nil
	}
	if n >= o.Window {
		st.Windows = n - o.Window + 1
	}
	if o.Official {
		x := toFloat64(confs)
		st.Mean = officialMean(x)
		st.Tail = officialTail(x, o.Tail)
		st.Bottom = officialBottomWindow(x, o.Window, o.BottomFraction)
		lg, err := OfficialLeastGrouped(x, o.Window)
		if err != nil {
			return TraceStats{}, err
		}
		st.LowestGroup = slices.Min(lg)
		return st, nil
	}

	var total, tail neumaier
	for _, c := range confs {
		total.add(float64(c))
	}
	st.Mean = total.value() / float64(n)
	t := min(o.Tail, n)
	for _, c := range confs[n-t:] {
		tail.add(float64(c))
	}
	st.Tail = tail.value() / float64(t)
	if st.Windows == 0 {
		st.LowestGroup, st.Bottom = st.Mean, st.Mean
		return st, nil
	}

	win, err := NewWindow(o.Window)
	if err != nil {
		return TraceStats{}, err
	}
	means := make([]float64, 0, st.Windows)
	for _, c := range confs {
		if m, full := win.Push(float64(c)); full {
			means = append(means, m)
		}
	}
	st.LowestGroup, _, _ = win.Lowest()
	b := bottomCount(len(means), o.BottomFraction)
	var bottom neumaier
	for _, m := range smallest(means, b) {
		bottom.add(m)
	}
	st.Bottom = bottom.value() / float64(b)
	return st, nil
}

// smallest returns the b smallest values of x in ascending order, as
// slices.Sort(x) then x[:b] would, but in O(len(x)·log b): a max-heap of
// the b smallest so far, whose root is replaced by anything smaller. It
// reorders x.
func smallest(x []float64, b int) []float64 {
	h := x[:b]
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= b {
				return
			}
			c := l
			if r := l + 1; r < b && h[r] > h[l] {
				c = r
			}
			if h[c] <= h[i] {
				return
			}
			h[i], h[c] = h[c], h[i]
			i = c
		}
	}
	for i := b/2 - 1; i >= 0; i-- {
		down(i)
	}
	for _, v := range x[b:] {
		if v < h[0] {
			h[0] = v
			down(0)
		}
	}
	slices.Sort(h)
	return h
}

// bottomCount is the official max(1, int(windows·fraction)).
func bottomCount(windows int, fraction float64) int {
	b := int(float64(windows) * fraction)
	return max(1, min(b, windows))
}

func toFloat64[F Float](x []F) []float64 {
	if y, ok := any(x).([]float64); ok {
		return y
	}
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// neumaier is a compensated sum.
type neumaier struct{ sum, comp float64 }

func (s *neumaier) add(x float64) {
	t := s.sum + x
	if math.Abs(s.sum) >= math.Abs(x) {
		s.comp += (s.sum - t) + x
	} else {
		s.comp += (x - t) + s.sum
	}
	s.sum = t
}

func (s *neumaier) value() float64 { return s.sum + s.comp }
