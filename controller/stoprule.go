package controller

import (
	"math"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// Stop rules of the deepconf policy (Config.StopRule). Each learns its
// threshold from the warm-up traces' values of the very statistic it
// compares adaptive traces with; docs/length-fair-confidence.md explains
// the choice of the default.
const (
	// StopHead (the default) judges every adaptive trace exactly once, on
	// its head: the mean confidence of its first W tokens with data, or of
	// all of them when it finishes with fewer. The head of d tokens is
	// compared with the (1 − η) quantile of the warm-up traces' heads of d
	// tokens, so a trace of any length faces the same chance of being
	// discarded. A trace is stopped once its head is complete and below
	// the bound; a trace that finishes before its head is complete is
	// judged at its end and, below the bound for its length, discarded
	// (it does not vote).
	StopHead = "head"
	// StopPaper is the paper's Algorithm 2: s = the (1 − η) quantile of the
	// warm-up traces' lowest group confidence; a trace is stopped as soon
	// as its current group confidence (the mean of its last W tokens) is
	// below s, that is as soon as its running lowest group is. A longer
	// trace has more windows and so more chances to be stopped.
	StopPaper = "paper"
	// StopPosition compares the running lowest group at token t with s(t),
	// the (1 − η) quantile of the warm-up traces' running lowest group at
	// token t. It removes the drift of the lowest group with length but
	// not the repeated looks (docs/length-fair-confidence.md).
	StopPosition = "position"
)

// Quantile estimators of the threshold (Config.Quantile).
const (
	// QuantileNormal is the lower normal-theory prediction bound of the
	// warm-up values (confidence.PredictionBound): a new value from the
	// same normal distribution is below it with probability exactly
	// 1 − η, whatever the number of warm-up traces.
	QuantileNormal = "normal"
	// QuantileLinear is numpy's linear percentile, the paper's estimator:
	// with 4 warm-up values and η = 0.9 it is passed by about a quarter of
	// new values instead of a tenth.
	QuantileLinear = "linear"
)

// threshold is the stop rule of one instance, learned from its warm-up
// traces.
type threshold struct {
	rule string
	// s is the constant threshold of StopPaper.
	s float64
	// bounds is, for StopHead, the bound of a head of d tokens at
	// bounds[d−1] (NaN: too few warm-up traces that long, not judged); for
	// StopPosition, s(t) at bounds[t−1], the last estimable value carried
	// forward to positions too few warm-up traces reach and beyond the end.
	bounds []float64
}

// at returns the bound at 1-based position t.
func (th *threshold) at(t int) float64 {
	if len(th.bounds) == 0 || t < 1 {
		return math.NaN()
	}
	return th.bounds[min(t, len(th.bounds))-1]
}

// reported is the single value stored as the prediction's threshold: s for
// the paper's rule, the bound of a full head (StopHead) or of a full first
// window (StopPosition); nil when it is not finite.
func (th *threshold) reported(w int) *float64 {
	v := th.s
	if th.rule != StopPaper {
		v = th.at(w)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// estimator estimates the (1 − η) quantile of warm-up values with the
// configured method.
type estimator struct {
	cfg Config
	pb  *confidence.Predictor
}

func newEstimator(cfg Config) *estimator {
	return &estimator{cfg: cfg, pb: confidence.NewPredictor(cfg.Keep)}
}

// quantile estimates the quantile of x; NaN when x is too small for the
// method.
func (e *estimator) quantile(x []float64) (float64, error) {
	switch e.cfg.Quantile {
	case QuantileLinear:
		if len(x) == 0 {
			return math.NaN(), nil
		}
		return confidence.StopThreshold(x, e.cfg.Keep)
	default:
		if len(x) < 2 {
			return math.NaN(), nil
		}
		return e.pb.Bound(x)
	}
}

// learn builds the instance's stop rule from its warm-up traces. It
// returns nil when no warm-up trace has a token confidence.
func learn(cfg Config, warm []*traceState) (*threshold, error) {
	var data [][]float32
	longest := 0
	for _, t := range warm {
		if d := t.data(); len(d) > 0 {
			data = append(data, d)
			longest = max(longest, len(d))
		}
	}
	if len(data) == 0 {
		return nil, nil
	}
	th := &threshold{rule: cfg.StopRule}
	est := newEstimator(cfg)
	switch cfg.StopRule {
	case StopPaper:
		var lows []float64
		for _, t := range warm {
			st, err := t.stats(cfg)
			if err != nil {
				return nil, err
			}
			if !st.Empty {
				lows = append(lows, st.LowestGroup)
			}
		}
		s, err := est.quantile(lows)
		if err != nil {
			return nil, err
		}
		if math.IsNaN(s) {
			return nil, nil
		}
		th.s = s
		return th, nil
	case StopHead:
		return th, th.fill(est, data, cfg.Window, func(d []float32) ([]float64, error) {
			return confidence.PrefixMeans(d, cfg.Window)
		})
	default:
		if err := th.fill(est, data, longest, func(d []float32) ([]float64, error) {
			return confidence.RunningLowest(d, cfg.Window)
		}); err != nil {
			return nil, err
		}
		// Positions that too few warm-up traces reach keep the last
		// threshold the warm-up could estimate: a trace longer than the
		// warm-up traces is compared with their deepest position.
		for t := 1; t < len(th.bounds); t++ {
			if math.IsNaN(th.bounds[t]) {
				th.bounds[t] = th.bounds[t-1]
			}
		}
		return th, nil
	}
}

// fill sets bounds[t−1], for t = 1…n, to the quantile of the per-position
// statistic of the warm-up traces that reach t.
func (th *threshold) fill(est *estimator, data [][]float32, n int, series func([]float32) ([]float64, error)) error {
	all := make([][]float64, len(data))
	for i, d := range data {
		s, err := series(d)
		if err != nil {
			return err
		}
		all[i] = s
	}
	th.bounds = make([]float64, n)
	x := make([]float64, 0, len(data))
	for t := range n {
		x = x[:0]
		for _, s := range all {
			if t < len(s) {
				x = append(x, s[t])
			}
		}
		q, err := est.quantile(x)
		if err != nil {
			return err
		}
		th.bounds[t] = q
	}
	return nil
}

// monitor is the early-stop rule, shared by the online path and replay so
// that both make the same decision on the same confidences: it pushes each
// token's confidence (if it has one) into the group window and says when the
// trace must stop. Nothing is stopped before minTokens tokens.
type monitor struct {
	win       *confidence.Window
	minTokens int
	th        *threshold
	n         int
	// head is the mean of the first W confidences once there are W.
	head float64
	// judged is set when StopHead judged the trace online (so it is not
	// judged again at its end).
	judged bool
}

func newMonitor(w, minTokens int, th *threshold) (*monitor, error) {
	win, err := confidence.NewWindow(w)
	if err != nil {
		return nil, err
	}
	return &monitor{win: win, minTokens: minTokens, th: th}, nil
}

// push records one token and reports whether the trace must stop after it.
func (m *monitor) push(c float32, ok bool) bool {
	m.n++
	if !ok || m.th == nil {
		return false
	}
	mean, full := m.win.Push(float64(c))
	switch m.th.rule {
	case StopHead:
		if m.win.Pushed() == m.win.Size() {
			m.head = mean
		}
		if m.judged || m.win.Pushed() < m.win.Size() || m.n < m.minTokens {
			return false
		}
		m.judged = true
		return m.head < m.th.at(m.win.Size())
	case StopPosition:
		if !full || m.n < m.minTokens {
			return false
		}
		low, _, _ := m.win.Lowest()
		return low < m.th.at(m.win.Pushed())
	}
	return full && m.n >= m.minTokens && mean < m.th.s
}

// discardAtEnd reports whether the stop rule discards a trace that finished
// by itself: StopHead judges a trace it could not judge online (its head
// was never complete) on the head it has; StopPaper with the post-hoc
// filter discards a trace whose lowest group is below s.
func discardAtEnd(cfg Config, th *threshold, t *traceState) (bool, error) {
	if th == nil {
		return false, nil
	}
	switch th.rule {
	case StopHead:
		if t.judged || t.phase != record.PhaseAdaptive {
			return false, nil
		}
		d := t.data()
		if len(d) == 0 {
			return false, nil
		}
		pm, err := confidence.PrefixMeans(d, cfg.Window)
		if err != nil {
			return false, err
		}
		return pm[len(pm)-1] < th.at(len(pm)), nil
	case StopPaper:
		if !cfg.PostHoc {
			return false, nil
		}
		st, err := t.stats(cfg)
		if err != nil {
			return false, err
		}
		return st.LowestGroup < th.s, nil
	}
	return false, nil
}
