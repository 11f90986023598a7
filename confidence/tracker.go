package confidence

// Tracker follows one trace while it is generated: it scores each position,
// pushes the confidences that have data into a group window, and keeps the
// accounting. A controller calls Observe once per generated token and stops
// the trace when Window().Below(threshold) becomes true.
//
// A Tracker is not safe for concurrent use; use one per trace. Observe does
// not allocate.
type Tracker struct {
	scorer Scorer
	win    *Window
	counts Counts
}

// NewTracker returns a tracker that scores with s and groups with a window
// of size w ≥ 1.
func NewTracker(s Scorer, w int) (*Tracker, error) {
	if s.k == 0 {
		// The zero Scorer: reject it rather than scoring nothing.
		_, err := NewScorer(0, s.variant)
		return nil, err
	}
	win, err := NewWindow(w)
	if err != nil {
		return nil, err
	}
	return &Tracker{scorer: s, win: win}, nil
}

// Observe scores position p, pushes its confidence into the window when it
// has data, records the accounting, and returns the score with the window's
// mean and fullness after the push. A position without data leaves the
// window unchanged, so window positions count tokens with data only (the
// official code likewise skips positions with an empty log-prob dict).
func (t *Tracker) Observe(p Position) (score TokenScore, mean float64, full bool) {
	score = t.scorer.Score(p)
	t.counts.Add(score, t.scorer.k)
	if score.OK {
		mean, full = t.win.Push(score.C)
		return score, mean, full
	}
	return score, t.win.Mean(), t.win.Full()
}

// Window returns the tracker's group window.
func (t *Tracker) Window() *Window { return t.win }

// Counts returns the accounting so far.
func (t *Tracker) Counts() Counts { return t.counts }

// Scorer returns the tracker's scorer.
func (t *Tracker) Scorer() Scorer { return t.scorer }

// Reset prepares the tracker for a new trace.
func (t *Tracker) Reset() {
	t.win.Reset()
	t.counts = Counts{}
}
