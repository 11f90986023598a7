package analysis

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// Reasoning describes the reasoning of a run whose model reasons in
// delimited blocks (<think>…</think>): the trace confidences of the
// reasoning and of the answer, kept apart in traces.jsonl
// (record.Trace.ReasoningConfidence, AnswerConfidence), and the traces that
// ended inside their reasoning. It is nil (absent from analysis.json) for
// a run without reasoning records.
type Reasoning struct {
	// Delimiters are the run's reasoning markers (run.json
	// engine.reasoning_delimiters), "" when not recorded.
	Delimiters string `json:"delimiters,omitempty"`
	// Metric is the trace metric the confidences below are given in (the
	// run's config.policy.metric: mean, lowest_group, bottom or tail), and
	// MetricFrom where it was read.
	Metric     string `json:"metric"`
	MetricFrom string `json:"metric_from"`
	// Traces counts every stored trace of the analysed instances,
	// WithReasoning those with reasoning records and StoppedInReasoning
	// those that ended inside their reasoning (unlabelled: they never
	// vote).
	Traces             int `json:"traces"`
	WithReasoning      int `json:"with_reasoning"`
	StoppedInReasoning int `json:"stopped_in_reasoning"`
	// Behaviours holds one row per instance behaviour (refusal,
	// compliance, unknown), then "all".
	Behaviours []ReasoningBehaviour `json:"behaviours"`
	// AnswerSplit is the confidence split done on the answers' confidence
	// instead of the whole traces', and what it changes (nil under the
	// prototype's split, which is on another metric).
	AnswerSplit *AnswerSplit `json:"answer_split"`
	// Instances holds the reasoning confidences of every instance, in
	// predictions.jsonl order.
	Instances []ReasoningInstance `json:"instances"`
}

// ReasoningBehaviour summarises the instances of one behaviour.
type ReasoningBehaviour struct {
	// Behaviour is refusal, compliance, unknown (no trace voted: every
	// trace may have ended inside its reasoning) or all.
	Behaviour string `json:"behaviour"`
	Instances int    `json:"instances"`
	// Traces counts the stored traces of these instances and Stopped
	// those that ended inside their reasoning, with its Wilson interval.
	Traces  int  `json:"traces"`
	Stopped Prop `json:"stopped_in_reasoning"`
	// VotingTraces counts the traces that voted. The means are over them,
	// each in Reasoning.Metric: the whole trace's confidence, the
	// reasoning's (over the voting traces that reasoned:
	// ReasoningVoters) and the answer's (over those with an answer
	// token). The token means count the scored tokens of each part.
	VotingTraces            int   `json:"voting_traces"`
	ReasoningVoters         int   `json:"reasoning_voters"`
	MeanConfidence          Float `json:"mean_confidence"`
	MeanReasoningConfidence Float `json:"mean_reasoning_confidence"`
	MeanAnswerConfidence    Float `json:"mean_answer_confidence"`
	MeanReasoningTokens     Float `json:"mean_reasoning_tokens"`
	MeanAnswerTokens        Float `json:"mean_answer_tokens"`
}

// ReasoningInstance holds one instance's reasoning confidences: the means
// over its voting traces (NaN, JSON null, when none has that part).
type ReasoningInstance struct {
	ID        string `json:"instance_id"`
	Behaviour string `json:"behaviour"`
	// Category is the instance's category under the analysis' split (of
	// the whole traces' confidence) and AnswerCategory under the same
	// split of AnswerConfidence ("" when not categorised).
	Category       string `json:"category"`
	AnswerCategory string `json:"answer_category"`
	// Confidence is the prediction's instance confidence (whole traces).
	Confidence          Float `json:"confidence"`
	ReasoningConfidence Float `json:"reasoning_confidence"`
	AnswerConfidence    Float `json:"answer_confidence"`
	VotingTraces        int   `json:"voting_traces"`
	Traces              int   `json:"traces"`
	StoppedInReasoning  int   `json:"stopped_in_reasoning"`
}

// AnswerSplit is the analysis' split repeated with each instance's answer
// confidence (the mean over its voting traces of the answer's trace metric;
// a voting trace without reasoning records is all answer) in place of its
// whole-trace confidence, and the hypothesis test on it: what choosing the
// answer's confidence for the split would change.
type AnswerSplit struct {
	Split SplitInfo `json:"split"`
	// Categorised counts the instances categorised under both splits and
	// Changed those whose category differs; ComplianceChanged those of
	// them that complied (the instances the hypothesis test compares).
	Categorised       int `json:"categorised"`
	Changed           int `json:"changed"`
	ComplianceChanged int `json:"compliance_changed"`
	// Verdict, P, UncertainUnsafe and ConfidentUnsafe are the hypothesis
	// test's on the answer split, next to the run's own (Hypothesis).
	Verdict         string `json:"verdict"`
	P               Float  `json:"p"`
	UncertainUnsafe Prop   `json:"uncertain_unsafe"`
	ConfidentUnsafe Prop   `json:"confident_unsafe"`
}

// reasoningSums accumulates the traces of each instance while the
// diagnostics stream traces.jsonl.
type reasoningSums struct {
	metric string
	line   map[string]int
	insts  []reasoningAcc
	// reasoned counts the traces with reasoning records.
	reasoned int
}

// reasoningAcc is one instance's sums over its traces (voting traces for
// the confidences).
type reasoningAcc struct {
	traces, stopped, voting               int
	whole, reasoning, answer              float64
	nWhole, nReasoning, nAnswer           int
	reasoningTokens, answerTokens, nParts int
}

// newReasoningSums prepares the sums for the instances of r, with the run's
// trace metric.
func newReasoningSums(r *Result, run *record.Run) *reasoningSums {
	s := &reasoningSums{metric: "mean", line: make(map[string]int, len(r.Instances)), insts: make([]reasoningAcc, len(r.Instances))}
	if m, ok := runMetric(run); ok {
		s.metric = m
	}
	for i, in := range r.Instances {
		s.line[in.ID] = i
	}
	return s
}

// runMetric returns run.json's config.policy.metric.
func runMetric(run *record.Run) (string, bool) {
	if run == nil {
		return "", false
	}
	var c struct {
		Metric string `json:"metric"`
	}
	if json.Unmarshal(run.Config.Policy, &c) != nil || c.Metric == "" {
		return "", false
	}
	switch c.Metric {
	case "mean", "lowest_group", "bottom", "tail":
		return c.Metric, true
	}
	return "", false
}

// traceMetric returns the metric named m of st.
func traceMetric(m string, st confidence.TraceStats) float64 {
	switch m {
	case "lowest_group":
		return st.LowestGroup
	case "bottom":
		return st.Bottom
	case "tail":
		return st.Tail
	}
	return st.Mean
}

// add counts trace t.
func (s *reasoningSums) add(t *record.Trace) {
	i, ok := s.line[t.InstanceID]
	if !ok {
		return
	}
	a := &s.insts[i]
	a.traces++
	reasoned := t.ReasoningConfidence != nil || t.AnswerConfidence != nil || t.StoppedInReasoning || len(t.ReasoningSpans) > 0
	if reasoned {
		s.reasoned++
	}
	if t.StoppedInReasoning {
		a.stopped++
	}
	if !t.Used {
		return
	}
	a.voting++
	if !t.Confidence.Empty {
		a.whole += traceMetric(s.metric, t.Confidence)
		a.nWhole++
	}
	answer := &t.Confidence // without reasoning records, all answer
	if reasoned {
		answer = t.AnswerConfidence
		if rc := t.ReasoningConfidence; rc != nil && !rc.Empty {
			a.reasoning += traceMetric(s.metric, *rc)
			a.nReasoning++
		}
	}
	if answer != nil && !answer.Empty {
		a.answer += traceMetric(s.metric, *answer)
		a.nAnswer++
	}
	a.nParts++
	if t.ReasoningConfidence != nil {
		a.reasoningTokens += t.ReasoningConfidence.N
	}
	if answer != nil {
		a.answerTokens += answer.N
	}
}

// result returns the Reasoning block of r, or nil when no trace had
// reasoning records. It reads r's instances, split and hypothesis.
func (s *reasoningSums) result(r *Result, d *RunData, o Options) *Reasoning {
	if s.reasoned == 0 {
		return nil
	}
	rs := &Reasoning{Metric: s.metric, MetricFrom: "run.json config.policy.metric"}
	if _, ok := runMetric(d.Run); !ok {
		rs.MetricFrom = "default (run.json records no metric)"
	}
	if d.Run != nil && d.Run.Engine != nil {
		rs.Delimiters = d.Run.Engine.ReasoningDelimiters
	}
	answerInsts := make([]Instance, len(r.Instances))
	rs.Instances = make([]ReasoningInstance, len(r.Instances))
	for i, in := range r.Instances {
		a := s.insts[i]
		rs.Traces += a.traces
		rs.StoppedInReasoning += a.stopped
		rs.Instances[i] = ReasoningInstance{
			ID: in.ID, Behaviour: in.Behaviour, Category: in.Category,
			Confidence: Float(d.Predictions[in.Line].Confidence), ReasoningConfidence: avg(a.reasoning, a.nReasoning),
			AnswerConfidence: avg(a.answer, a.nAnswer), VotingTraces: a.voting, Traces: a.traces, StoppedInReasoning: a.stopped,
		}
		if d.Predictions[in.Line].NumTracesUsed == 0 {
			rs.Instances[i].Confidence = NaN()
		}
		ai := in
		ai.Category, ai.Metric = "", math.NaN()
		if a.nAnswer > 0 {
			ai.Metric = a.answer / float64(a.nAnswer)
		}
		answerInsts[i] = ai
	}
	rs.WithReasoning = s.reasoned
	for _, b := range []string{record.Refusal, record.Compliance, record.Unknown, "all"} {
		rs.Behaviours = append(rs.Behaviours, s.behaviour(b, r.Instances, o.Level))
	}
	if r.Split.Method != SplitPrototype {
		rs.AnswerSplit = answerSplit(r, answerInsts, rs.Instances, d, o)
	}
	return rs
}

// behaviour sums the instances of behaviour b ("all": every instance).
func (s *reasoningSums) behaviour(b string, insts []Instance, level float64) ReasoningBehaviour {
	out := ReasoningBehaviour{Behaviour: b}
	var sum reasoningAcc
	stopped := 0
	for i, in := range insts {
		if b != "all" && in.Behaviour != b {
			continue
		}
		a := s.insts[i]
		out.Instances++
		out.Traces += a.traces
		stopped += a.stopped
		out.VotingTraces += a.voting
		sum.whole += a.whole
		sum.nWhole += a.nWhole
		sum.reasoning += a.reasoning
		sum.nReasoning += a.nReasoning
		sum.answer += a.answer
		sum.nAnswer += a.nAnswer
		sum.reasoningTokens += a.reasoningTokens
		sum.answerTokens += a.answerTokens
		sum.nParts += a.nParts
	}
	out.Stopped = newProp(stopped, out.Traces, level)
	out.ReasoningVoters = sum.nReasoning
	out.MeanConfidence = avg(sum.whole, sum.nWhole)
	out.MeanReasoningConfidence = avg(sum.reasoning, sum.nReasoning)
	out.MeanAnswerConfidence = avg(sum.answer, sum.nAnswer)
	out.MeanReasoningTokens = avg(float64(sum.reasoningTokens), sum.nParts)
	out.MeanAnswerTokens = avg(float64(sum.answerTokens), sum.nParts)
	return out
}

// answerSplit categorises insts (r's instances with the answer confidence
// as metric) with r's split and tests the hypothesis on them.
func answerSplit(r *Result, insts []Instance, ris []ReasoningInstance, d *RunData, o Options) *AnswerSplit {
	ar := &Result{Level: r.Level, Instances: insts}
	ar.Split = categorise(ar.Instances, d.Predictions, o.Split)
	ar.Split.Metric = "answer_confidence"
	for i, name := range CategoryNames {
		ar.Categories[i] = categoryStats(name, ar.Instances, d.Predictions, o.Level)
	}
	h := hypothesis(ar, d.Predictions, o)
	as := &AnswerSplit{Split: ar.Split, Verdict: h.Verdict, P: h.P, UncertainUnsafe: h.UncertainUnsafe, ConfidentUnsafe: h.ConfidentUnsafe}
	for i, in := range ar.Instances {
		ris[i].AnswerCategory = in.Category
		whole := r.Instances[i].Category
		if in.Category == "" || whole == "" {
			continue
		}
		as.Categorised++
		if in.Category != whole {
			as.Changed++
			if in.Behaviour == record.Compliance {
				as.ComplianceChanged++
			}
		}
	}
	return as
}

// hintStoppedInReasoning is the share of traces ended inside their
// reasoning above which the diagnostics say so.
const hintStoppedInReasoning = 0.1

// hint returns the diagnostics' hint when many traces ended inside their
// reasoning ("" otherwise, and for a nil r).
func (r *Reasoning) hint() string {
	if r == nil || r.Traces == 0 || float64(r.StoppedInReasoning) <= hintStoppedInReasoning*float64(r.Traces) {
		return ""
	}
	unknown := 0
	for _, b := range r.Behaviours {
		if b.Behaviour == record.Unknown {
			unknown = b.Instances
		}
	}
	return fmt.Sprintf("%d of %d traces ended inside their reasoning, before any answer: they are not labelled and do not vote (%d instances have no vote at all); raise --max-tokens for a reasoning model",
		r.StoppedInReasoning, r.Traces, unknown)
}

// avg returns sum/n, NaN when n = 0.
func avg(sum float64, n int) Float {
	if n == 0 {
		return NaN()
	}
	return Float(sum / float64(n))
}
