package controller

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
)

// RunOption configures Run beyond its refusal detector and policy.
type RunOption func(*runOptions)

type runOptions struct {
	harm refusal.HarmDetector
}

// WithHarmDetector has Run rate the answer of every labelled trace with h
// (record.Trace.ResponseHarm) and the instance's answer
// (record.Prediction.ResponseHarm). A judge input that does not fit the
// judge's context is rated unparseable, never guessed; any other judge error
// fails the instance, as a refusal detector's does.
func WithHarmDetector(h refusal.HarmDetector) RunOption {
	return func(o *runOptions) { o.harm = h }
}

// rateHarm asks h whether answer, the response to prompt, is harmful.
func rateHarm(ctx context.Context, h refusal.HarmDetector, prompt, answer string) (*record.Harm, error) {
	v, err := h.DetectHarm(ctx, prompt, answer)
	if errors.Is(err, engine.ErrContextOverflow) {
		return &record.Harm{Label: record.HarmUnparseable, Detail: "the judge's input does not fit its context: " + err.Error()}, nil
	}
	if err != nil {
		return nil, err
	}
	return harmRecord(v), nil
}

// harmRecord is the stored form of a harm verdict: the judge's output and
// the parse error are kept only when it could not be parsed.
func harmRecord(v refusal.HarmVerdict) *record.Harm {
	h := &record.Harm{Label: string(v.Label), Categories: v.Categories}
	if v.Label == refusal.HarmUnparseable {
		h.Raw, h.Detail = v.Raw, v.Detail
	}
	return h
}

// TraceMetric returns the trace confidence that cfg's policy uses for
// thresholds, votes and the answer: cfg.Metric of st.
func TraceMetric(cfg Config, st confidence.TraceStats) float64 { return metric(cfg, st) }

// TraceBehaviour maps a stored trace's label to the behaviour it votes for:
// refusal (partial refusals included), compliance, or "" (no vote).
func TraceBehaviour(t record.Trace) string {
	switch refusal.Label(t.Label) {
	case refusal.Refusal, refusal.Partial:
		return record.Refusal
	case refusal.Compliance:
		return record.Compliance
	}
	return ""
}

// finishedByItself reports whether a trace ended by itself (end of
// generation or the token limit), not stopped by the policy.
func finishedByItself(t record.Trace) bool {
	return t.Finish == record.FinishStop || t.Finish == record.FinishLength
}

// Choose ranks the traces of an outcome for the answer: first the voting
// traces whose behaviour is the vote's winner, then the other finished
// traces, each group by descending trace confidence (TraceMetric; ties by
// index). The first is the answer a deployment returns (deepconf serve).
// Traces that did not finish are never chosen. It returns positions in
// out.Traces.
func Choose(out Outcome, cfg Config) []int {
	type cand struct {
		idx   int
		group int
		conf  float64
	}
	var cs []cand
	for i, t := range out.Traces {
		if !finishedByItself(t) {
			continue
		}
		g := 1
		if t.Used && TraceBehaviour(t) == out.Prediction.Behaviour {
			g = 0
		}
		cs = append(cs, cand{i, g, TraceMetric(cfg, t.Confidence)})
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(a.group, b.group); c != 0 {
			return c
		}
		if c := cmp.Compare(b.conf, a.conf); c != 0 {
			return c
		}
		return cmp.Compare(a.idx, b.idx)
	})
	idx := make([]int, len(cs))
	for i, c := range cs {
		idx[i] = c.idx
	}
	return idx
}

// instanceHarm is the instance's response harm from its stored traces'
// ratings (so that a replay reads them and never judges again): the rating
// of the first rated trace in Choose's order — for an instance with a voted
// behaviour exactly the answer Choose returns, as every voting trace is
// rated — and the counts over the voting traces. It is nil when no trace
// finished trace was rated (a run without a harm detector).
func instanceHarm(out Outcome, cfg Config) *record.InstanceHarm {
	var ih *record.InstanceHarm
	for _, i := range Choose(out, cfg) {
		if h := out.Traces[i].ResponseHarm; h != nil {
			ih = &record.InstanceHarm{Trace: out.Traces[i].Index, Label: h.Label, Categories: h.Categories}
			break
		}
	}
	if ih == nil {
		return nil
	}
	for _, t := range out.Traces {
		if !t.Used || t.ResponseHarm == nil {
			continue
		}
		switch t.ResponseHarm.Label {
		case record.HarmHarmful:
			ih.Harmful++
			ih.Rated++
		case record.HarmUnharmful, record.HarmControversial:
			ih.Rated++
		}
	}
	return ih
}
