package controller

import (
	"fmt"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/record"
)

// Replay runs the policy cfg on an instance's stored traces instead of an
// engine: trace i of the policy is stored trace i (traces have per-trace
// seeds, so trace i is the same sample whatever the policy), its per-token
// confidences drive the early stop, and its stored label is its verdict.
//
// Replaying the configuration of the run that stored the traces makes the
// same decisions and counts the same tokens as the run did. Another
// configuration is answered as far as the stored traces allow: a trace the
// new policy stops earlier is truncated (its label, harm rating and text
// are then unknown, as they would be online); a trace it needs beyond what
// was stored (more traces, or a trace that was stopped early when stored)
// gives an error wrapping the reason. With Parallel > 1, a trace in flight
// when the consensus stop fires is charged its stored tokens if it was
// stored as consensus-cancelled, and its full stored length otherwise.
// Stored harm ratings (record.Trace.ResponseHarm) are read, never judged
// again.
func Replay(cfg Config, in benchmark.Instance, traces []record.Trace) (Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return Outcome{}, err
	}
	stored := make(map[int]record.Trace, len(traces))
	for _, t := range traces {
		if t.InstanceID != in.ID {
			return Outcome{}, fmt.Errorf("replay %s: trace of instance %s", in.ID, t.InstanceID)
		}
		if _, dup := stored[t.Index]; dup {
			return Outcome{}, fmt.Errorf("replay %s: trace %d stored twice", in.ID, t.Index)
		}
		if len(t.TokenLogprobs) != len(t.TokenConfidences) {
			return Outcome{}, fmt.Errorf("replay %s: trace %d: %d token logprobs for %d confidences", in.ID, t.Index, len(t.TokenLogprobs), len(t.TokenConfidences))
		}
		if len(t.TokenOK) != 0 && len(t.TokenOK) != len(t.TokenConfidences) {
			return Outcome{}, fmt.Errorf("replay %s: trace %d: %d token_ok flags for %d confidences", in.ID, t.Index, len(t.TokenOK), len(t.TokenConfidences))
		}
		stored[t.Index] = t
	}
	r := &instance{cfg: cfg, in: in, d: &replay{cfg: cfg, id: in.ID, stored: stored}}
	if err := r.run(); err != nil {
		return Outcome{}, fmt.Errorf("replay %s: %w", in.ID, err)
	}
	return r.outcome()
}

// replay is the driver that answers from stored traces.
type replay struct {
	cfg    Config
	id     string
	stored map[int]record.Trace
	queue  []*replayed
}

type replayed struct {
	t         *traceState
	err       error
	partial   bool // the stored trace stops before this policy would
	cancelled bool
}

func (d *replay) start(t *traceState, th *threshold) {
	q := &replayed{t: t}
	d.queue = append(d.queue, q)
	st, ok := d.stored[t.index]
	if !ok {
		q.err = fmt.Errorf("trace %d was never sampled: %w", t.index, ErrPoolExhausted)
		return
	}
	if st.Seed != t.seed {
		q.err = fmt.Errorf("trace %d was sampled with seed %d, this policy's trace %d has seed %d (a different --seed?): %w",
			t.index, st.Seed, t.index, t.seed, ErrPoolExhausted)
		return
	}
	f := fromRecord(st)
	f.phase = t.phase
	m, err := newMonitor(d.cfg.Window, d.cfg.MinTokens, th)
	if err != nil {
		q.err = err
		return
	}
	stop := -1
	for i, c := range f.confs {
		if m.push(c, f.ok[i]) {
			stop = i + 1
			break
		}
	}
	*t = *f
	t.judged = m.judged
	if o := st.ConfidenceOptions; o != nil && *o == (record.StatsOptions{Window: d.cfg.Window, Tail: d.cfg.Tail, BottomFraction: d.cfg.BottomFraction}) &&
		(stop < 0 || stop == len(f.confs)) {
		// The stored statistics are what stats would compute: the same
		// confidences, the same options.
		c := st.Confidence
		t.memo = &c
	}
	if stop < 0 || stop == len(f.confs) {
		sc := st.PrototypeConfidence
		t.prototypeMemo = &sc
	}
	switch {
	case stop >= 0:
		t.early = true
		if stop < len(f.confs) {
			// Stopped earlier than stored: what it said is unknown.
			t.confs, t.ok, t.lps = f.confs[:stop], f.ok[:stop], f.lps[:stop]
			t.truncateReasoning(stop)
			t.text = ""
		}
		t.labeled, t.harm = false, nil
		t.finish = record.FinishEarlyStop
		t.result.Tokens = stop
	case st.Finish == record.FinishEarlyStop || st.Finish == record.FinishConsensus:
		q.partial = true
	}
}

func (d *replay) next() (*traceState, error) {
	q := d.queue[0]
	d.queue = d.queue[1:]
	q.t.done = true
	if q.err == nil && q.partial && !q.cancelled {
		q.err = fmt.Errorf("trace %d was stored stopped after %d tokens (%s), and this policy needs all of it: %w",
			q.t.index, len(q.t.confs), d.stored[q.t.index].Finish, ErrPoolExhausted)
	}
	return q.t, q.err
}

func (d *replay) cancel(t *traceState) {
	for _, q := range d.queue {
		if q.t == t {
			q.cancelled = true
			if q.partial {
				t.finish = record.FinishConsensus
			}
		}
	}
}

func (d *replay) abort() { d.queue = nil }
