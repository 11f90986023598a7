package confidence

import (
	"fmt"
	"math"
)

// Window is the streaming group monitor: a ring buffer holding the last W
// token confidences, their running sum, and the lowest mean of a full window
// seen so far.
//
// The running sum is drift-free: every push adds the new value and subtracts
// the evicted one with Neumaier's compensated summation, and every W pushes
// the sum is recomputed from the buffer, so its error stays at the level of
// one compensated sum of W values however long the trace is.
//
// A Window is not safe for concurrent use. Push does not allocate.
type Window struct {
	buf   []float64
	head  int // index of the oldest value once full; next write position
	n     int // values held (≤ len(buf))
	sum   neumaier
	since int // pushes since the last recomputation

	pushed   int
	rejected int

	lowest    float64
	lowestEnd int // pushes when the lowest full window ended
	hasLowest bool
}

// NewWindow returns an empty window of size w ≥ 1.
func NewWindow(w int) (*Window, error) {
	if w < 1 {
		return nil, fmt.Errorf("confidence: window size %d: must be ≥ 1", w)
	}
	return &Window{buf: make([]float64, w)}, nil
}

// Size returns W.
func (g *Window) Size() int { return len(g.buf) }

// Len returns the number of values in the window (≤ W).
func (g *Window) Len() int { return g.n }

// Full reports whether the window holds W values.
func (g *Window) Full() bool { return g.n == len(g.buf) }

// Pushed returns the number of values accepted since the window was created
// or reset.
func (g *Window) Pushed() int { return g.pushed }

// Rejected returns the number of non-finite values Push refused.
func (g *Window) Rejected() int { return g.rejected }

// Mean returns the mean of the values in the window: the current group
// confidence C_G when the window is full, the mean of the values so far
// otherwise, and 0 when the window is empty.
func (g *Window) Mean() float64 {
	if g.n == 0 {
		return 0
	}
	return g.sum.value() / float64(g.n)
}

// Lowest returns the lowest mean of a full window seen so far and the number
// of pushes after which that window ended; ok is false while the window has
// never been full.
func (g *Window) Lowest() (mean float64, end int, ok bool) {
	return g.lowest, g.lowestEnd, g.hasLowest
}

// Below reports whether the window is full and its mean is below s: the
// online early-stop rule of the paper and of the official code, which cannot
// fire before W values have been pushed.
func (g *Window) Below(s float64) bool {
	return g.Full() && g.Mean() < s
}

// Push adds the confidence c of the next token and returns the window's
// mean and whether it is full. A non-finite c is refused (counted by
// Rejected) and leaves the window unchanged, so NaN can never enter the sum.
func (g *Window) Push(c float64) (mean float64, full bool) {
	if math.IsNaN(c) || math.IsInf(c, 0) {
		g.rejected++
		return g.Mean(), g.Full()
	}
	w := len(g.buf)
	g.pushed++
	if g.n < w {
		g.buf[g.n] = c // head stays 0 until the window is full
		g.n++
		g.sum.add(c)
	} else {
		old := g.buf[g.head]
		g.buf[g.head] = c
		g.head++
		if g.head == w {
			g.head = 0
		}
		g.sum.add(c)
		g.sum.add(-old)
	}
	g.since++
	if g.since >= w {
		g.recompute()
	}
	mean = g.Mean()
	full = g.n == w
	if full && (!g.hasLowest || mean < g.lowest) {
		g.lowest, g.lowestEnd, g.hasLowest = mean, g.pushed, true
	}
	return mean, full
}

// recompute sums the buffer afresh, discarding accumulated error.
func (g *Window) recompute() {
	g.sum = neumaier{}
	// Oldest to newest: buf[head:] then buf[:head] when full; buf[:n]
	// (head == 0) before.
	for _, v := range g.buf[g.head:g.n] {
		g.sum.add(v)
	}
	if g.n == len(g.buf) {
		for _, v := range g.buf[:g.head] {
			g.sum.add(v)
		}
	}
	g.since = 0
}

// Reset empties the window and forgets the lowest mean, keeping its size.
func (g *Window) Reset() {
	*g = Window{buf: g.buf}
}

// StopIndex replays the online early stop on a trace's stored token
// confidences: it pushes confs into a window of size w and returns the
// number of confidences consumed when the window first became full with a
// mean below s (stopped == true), or len(confs) when it never did. It uses
// Window, so on float64 confidences it reproduces the online decision
// exactly; float32 storage reproduces it to float32 precision only, which
// can flip a decision whose group mean is within about 1e-6 (relative) of s.
// Non-finite confidences are an error.
func StopIndex[F Float](confs []F, w int, s float64) (n int, stopped bool, err error) {
	g, err := NewWindow(w)
	if err != nil {
		return 0, false, err
	}
	for i, c := range confs {
		v := float64(c)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, false, fmt.Errorf("confidence: token %d: confidence %v is not finite", i, v)
		}
		g.Push(v)
		if g.Below(s) {
			return i + 1, true, nil
		}
	}
	return len(confs), false, nil
}
