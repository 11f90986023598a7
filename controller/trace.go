package controller

import (
	"fmt"
	"hash/fnv"
	"math"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/confidence/prototype"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
)

// TraceSeed derives the sampling seed of trace index of an instance from the
// run's base seed, so that a trace's seed does not depend on the order in
// which instances run, on sharding or on resuming.
func TraceSeed(base uint64, instanceID string, index int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(instanceID))
	return splitmix(splitmix(base^h.Sum64()) + uint64(index))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// traceState is one trace while it runs and after.
type traceState struct {
	index int
	seed  uint64
	phase string

	confs []float32
	ok    []bool
	lps   []float32
	ids   []int32
	text  string
	// counts is the log-probability accounting.
	counts confidence.Counts

	result engine.Result
	early  bool // stopped by the monitor
	judged bool // judged online by the head rule (monitor.judged)
	// discarded is set when the stop rule discarded the finished trace
	// (discardAtEnd): it was labelled but does not vote.
	discarded bool
	done      bool // finished (naturally, early, or cancelled)
	labeled   bool
	verdict   refusal.Verdict
	// harm is the harm detector's rating of a labelled trace's answer
	// (nil without a harm detector).
	harm *record.Harm
	// finish is the stored finish reason (record.Finish*).
	finish string
	used   bool
	// memo caches the statistics of a done trace: they depend only on its
	// confidences and the configuration, which no longer change.
	memo *confidence.TraceStats
	// prototypeMemo is the stored prototype confidence of a replayed trace that
	// was not truncated.
	prototypeMemo *float64
	// spans are the [start, end) token ranges of the model's reasoning
	// (engine.Token.Reasoning); inReasoning reports that the trace ended
	// inside one.
	spans       [][2]int
	inReasoning bool
}

// tokenFunc returns the TokenFunc of t: it scores every token, stores it, and
// stops the trace when m says so.
func (t *traceState) tokenFunc(sc confidence.Scorer, k int, m *monitor) engine.TokenFunc {
	return func(tok *engine.Token) bool {
		score := sc.Score(confidence.Position{Logprob: tok.Logprob, ID: tok.ID, Top: tok.TopLogprobs, TopIDs: tok.TopIDs})
		t.counts.Add(score, k)
		c := float32(score.C)
		t.confs = append(t.confs, c)
		t.ok = append(t.ok, score.OK)
		t.lps = append(t.lps, float32(tok.Logprob))
		if tok.Reasoning {
			t.markReasoning(len(t.confs) - 1)
		}
		if m.push(c, score.OK) {
			t.early = true
			return false
		}
		return true
	}
}

// markReasoning records that token i belongs to the model's reasoning.
func (t *traceState) markReasoning(i int) {
	if n := len(t.spans); n > 0 && t.spans[n-1][1] == i {
		t.spans[n-1][1] = i + 1
		return
	}
	t.spans = append(t.spans, [2]int{i, i + 1})
}

// truncateReasoning keeps the reasoning spans of the first n tokens, for a
// trace cut short in replay, and whether it ends inside one.
func (t *traceState) truncateReasoning(n int) {
	var kept [][2]int
	for _, sp := range t.spans {
		if sp[0] < n {
			kept = append(kept, [2]int{sp[0], min(sp[1], n)})
		}
	}
	// Inside when the cut falls strictly within a span: a span ends with
	// its closing marker, or with the stored trace (which this cut is
	// before).
	t.inReasoning = false
	for _, sp := range t.spans {
		if sp[0] < n && n < sp[1] {
			t.inReasoning = true
		}
	}
	t.spans = kept
}

// hasReasoning reports whether the engine marked any of the trace's tokens
// as reasoning, or the trace ended inside its reasoning.
func (t *traceState) hasReasoning() bool { return len(t.spans) > 0 || t.inReasoning }

// partStats computes the trace confidences of the reasoning tokens and of
// the answer tokens separately.
func (t *traceState) partStats(cfg Config) (reasoning, answer confidence.TraceStats, err error) {
	in := make([]bool, len(t.confs))
	for _, sp := range t.spans {
		for i := sp[0]; i < sp[1] && i < len(in); i++ {
			in[i] = true
		}
	}
	var rc, ac []float32
	for i, c := range t.confs {
		switch {
		case !t.ok[i]:
		case in[i]:
			rc = append(rc, c)
		default:
			ac = append(ac, c)
		}
	}
	o := confidence.StatsOptions{Window: cfg.Window, Tail: cfg.Tail, BottomFraction: cfg.BottomFraction}
	if reasoning, err = confidence.Summarize(rc, o); err != nil {
		return
	}
	answer, err = confidence.Summarize(ac, o)
	return
}

// reset forgets a trace's tokens before it is sampled again.
func (t *traceState) reset() {
	*t = traceState{index: t.index, seed: t.seed, phase: t.phase}
}

// data returns the token confidences of the positions with data, the values
// the group window saw.
func (t *traceState) data() []float32 {
	confs := make([]float32, 0, len(t.confs))
	for i, c := range t.confs {
		if t.ok[i] {
			confs = append(confs, c)
		}
	}
	return confs
}

// stats computes the trace confidences from the stored token confidences.
func (t *traceState) stats(cfg Config) (confidence.TraceStats, error) {
	if t.memo != nil {
		return *t.memo, nil
	}
	confs := t.data()
	st, err := confidence.Summarize(confs, confidence.StatsOptions{Window: cfg.Window, Tail: cfg.Tail, BottomFraction: cfg.BottomFraction})
	if err == nil && t.done {
		t.memo = &st
	}
	return st, err
}

// metric returns cfg.Metric of st.
func metric(cfg Config, st confidence.TraceStats) float64 {
	switch cfg.Metric {
	case MetricBottom:
		return st.Bottom
	case MetricTail:
		return st.Tail
	case MetricMean:
		return st.Mean
	}
	return st.LowestGroup
}

// prototypeConfidence is the prototype's trace confidence: −mean of the sampled
// tokens' log-probabilities clipped to [−100, 0], non-finite ones dropped.
func prototypeConfidence(lps []float32) float64 {
	x := make([]float64, len(lps))
	for i, lp := range lps {
		x[i] = prototype.ClipLogprob(float64(lp))
	}
	c, err := prototype.TokenConfidence(x, prototype.NegAvgLogprob, prototype.DefaultOptions())
	if err != nil || math.IsNaN(c) {
		return 0
	}
	return c
}

// prototypeConfidence returns the prototype's confidence of the trace.
func (t *traceState) prototypeConfidence() float64 {
	if t.prototypeMemo != nil {
		return *t.prototypeMemo
	}
	return prototypeConfidence(t.lps)
}

// toRecord converts a finished trace to its stored form.
func (t *traceState) toRecord(cfg Config, instanceID string) (record.Trace, error) {
	st, err := t.stats(cfg)
	if err != nil {
		return record.Trace{}, fmt.Errorf("trace %d: %w", t.index, err)
	}
	r := record.Trace{
		InstanceID:          instanceID,
		Index:               t.index,
		Seed:                t.seed,
		Phase:               t.phase,
		Text:                t.text,
		Tokens:              len(t.confs),
		Finish:              t.finish,
		Used:                t.used,
		Confidence:          st,
		ConfidenceOptions:   &record.StatsOptions{Window: cfg.Window, Tail: cfg.Tail, BottomFraction: cfg.BottomFraction},
		PrototypeConfidence: t.prototypeConfidence(),
		Counts:              t.counts,
		TokenConfidences:    t.confs,
		TokenLogprobs:       t.lps,
	}
	if t.result.Tokens > r.Tokens {
		// A server may count tokens it did not send entries for (usage).
		r.Tokens = t.result.Tokens
	}
	for _, ok := range t.ok {
		if !ok {
			r.TokenOK = t.ok
			break
		}
	}
	if t.labeled {
		r.Label, r.Rule = string(t.verdict.Label), t.verdict.Rule
		r.ResponseHarm = t.harm
	}
	if t.hasReasoning() {
		rs, as, err := t.partStats(cfg)
		if err != nil {
			return record.Trace{}, fmt.Errorf("trace %d: %w", t.index, err)
		}
		r.ReasoningSpans, r.ReasoningConfidence, r.AnswerConfidence = t.spans, &rs, &as
		r.StoppedInReasoning = t.inReasoning
	}
	return r, nil
}

// fromRecord rebuilds a trace's state from its stored form, for replay.
func fromRecord(r record.Trace) *traceState {
	t := &traceState{
		index:  r.Index,
		seed:   r.Seed,
		phase:  r.Phase,
		confs:  r.TokenConfidences,
		lps:    r.TokenLogprobs,
		text:   r.Text,
		counts: r.Counts,
		finish: r.Finish,
	}
	t.ok = r.TokenOK
	if t.ok == nil {
		t.ok = make([]bool, len(t.confs))
		for i := range t.ok {
			t.ok[i] = true
		}
	}
	t.result = engine.Result{Text: r.Text, Tokens: r.Tokens}
	t.spans, t.inReasoning = r.ReasoningSpans, r.StoppedInReasoning
	if r.Label != "" {
		t.labeled = true
		t.verdict = refusal.Verdict{Label: refusal.Label(r.Label), Rule: r.Rule}
		t.harm = r.ResponseHarm
	}
	return t
}
