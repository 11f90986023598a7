package serve

import (
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
)

// Report is the "deepconf" object of a response: how the answer was decided.
type Report struct {
	// InstanceID is the id the per-trace seeds derive from.
	InstanceID string `json:"instance_id"`
	// Policy is the sampling policy; Seed the base seed.
	Policy string `json:"policy"`
	Seed   uint64 `json:"seed"`
	// Behaviour is the vote's winner: refusal, compliance or unknown (no
	// trace voted).
	Behaviour string `json:"behaviour"`
	// Beta is the vote's consensus, the winner's share of the votes.
	Beta float64 `json:"beta"`
	// Votes maps each behaviour to its summed weight (the traces'
	// confidences for the weighted vote).
	Votes map[string]float64 `json:"votes"`
	// Confidence is the instance confidence: the mean of the metric over
	// the voting traces (the value a confidence gate compares).
	Confidence float64 `json:"confidence"`
	// Metric names the trace confidence: lowest_group, bottom, tail or
	// mean.
	Metric string `json:"metric"`
	// Threshold is the early-stop threshold learned from the warm-up
	// (deepconf policy) or the prototype's conf_bar (prototype policy).
	Threshold *float64 `json:"threshold"`
	// Stop says why sampling ended: consensus, budget, traces,
	// seed-threshold or max-traces.
	Stop string `json:"stop"`
	// TracesStarted, TracesStoppedEarly and TracesUsed count the traces
	// started, stopped by the early stop, and voting.
	TracesStarted      int `json:"traces_started"`
	TracesStoppedEarly int `json:"traces_stopped_early"`
	TracesUsed         int `json:"traces_used"`
	// MaxTraces is the trace budget of the policy.
	MaxTraces int `json:"max_traces"`
	// TokensGenerated counts every generated token, early-stopped and
	// cancelled traces included (usage.completion_tokens).
	TokensGenerated int `json:"tokens_generated"`
	// TokensBaseline is what MaxTraces complete traces would have cost:
	// MaxTraces × the mean length of the voting traces, truncated (the
	// baseline_tokens of deepconf analyze for one instance).
	TokensBaseline int `json:"tokens_baseline"`
	// TokensSaved is TokensBaseline − TokensGenerated.
	TokensSaved int `json:"tokens_saved"`
	// Chosen lists the trace index of each choice, in choice order.
	Chosen []int `json:"chosen_traces"`
	// ChosenConfidence is the trace confidence of the first choice.
	ChosenConfidence float64 `json:"chosen_confidence"`
	// Gate is the confidence gate's decision; absent with --gate off.
	Gate *GateDecision `json:"gate,omitempty"`
	// RandomModel is true when the model is a generated random-weight
	// test model: its answers say nothing about any real model.
	RandomModel bool `json:"random_model,omitempty"`
	// Traces lists every trace when the request asked for them.
	Traces []TraceReport `json:"traces,omitempty"`
}

// TraceReport describes one trace in Report.Traces.
type TraceReport struct {
	Index int    `json:"index"`
	Seed  uint64 `json:"seed"`
	Phase string `json:"phase"`
	// Finish is stop, length, early-stopped or consensus-cancelled.
	Finish string `json:"finish"`
	// Label is the refusal detector's verdict, "" for a trace that did not
	// finish.
	Label string `json:"label"`
	Used  bool   `json:"used"`
	// Tokens is the number of generated tokens.
	Tokens int `json:"tokens"`
	// Confidence is the trace's metric (Report.Metric).
	Confidence float64 `json:"confidence"`
	// Text is the trace's text; omitted when the gate replaced the answer.
	Text string `json:"text,omitempty"`
}

// Choice is one answer of a response: a finished trace.
type Choice struct {
	// Trace is the trace's index.
	Trace int
	// Text is the trace's text.
	Text string
	// Finish is OpenAI's finish_reason: stop or length.
	Finish string
}

// TraceConfidence returns the trace confidence that cfg's policy uses for
// thresholds and votes (controller.TraceMetric).
func TraceConfidence(cfg controller.Config, st confidence.TraceStats) float64 {
	return controller.TraceMetric(cfg, st)
}

// TraceBehaviour maps a stored trace's label to the behaviour it votes for
// (controller.TraceBehaviour).
func TraceBehaviour(t record.Trace) string { return controller.TraceBehaviour(t) }

// Choose ranks the traces of an outcome for the answer (controller.Choose):
// first the voting traces whose behaviour is the vote's winner, then the
// other finished traces, each group by descending trace confidence (ties by
// index). The first is the answer; n choices take the first n. Traces that
// did not finish are never chosen.
func Choose(out controller.Outcome, cfg controller.Config) []int { return controller.Choose(out, cfg) }

// Describe builds the answer's report and up to n choices from an outcome
// of the policy cfg with trace budget maxTraces; withTraces lists every
// trace.
func Describe(out controller.Outcome, cfg controller.Config, maxTraces, n int, withTraces bool) (Report, []Choice) {
	p := out.Prediction
	rep := Report{
		InstanceID:         p.InstanceID,
		Policy:             p.Policy,
		Seed:               cfg.Sampling.Seed,
		Behaviour:          p.Behaviour,
		Beta:               p.Beta,
		Votes:              p.Votes,
		Confidence:         p.Confidence,
		Metric:             cfg.Metric,
		Threshold:          p.Threshold,
		Stop:               p.Stop,
		TracesStarted:      p.TracesGenerated,
		TracesStoppedEarly: p.EarlyStopped,
		TracesUsed:         p.NumTracesUsed,
		MaxTraces:          maxTraces,
		TokensGenerated:    p.TokensGenerated,
		TokensBaseline:     int(float64(maxTraces) * p.AvgTokensPerTrace),
		Chosen:             []int{},
	}
	rep.TokensSaved = rep.TokensBaseline - rep.TokensGenerated
	var choices []Choice
	for _, i := range Choose(out, cfg) {
		if len(choices) == n {
			break
		}
		t := out.Traces[i]
		if len(choices) == 0 {
			rep.ChosenConfidence = TraceConfidence(cfg, t.Confidence)
		}
		choices = append(choices, Choice{Trace: t.Index, Text: t.Text, Finish: t.Finish})
		rep.Chosen = append(rep.Chosen, t.Index)
	}
	if withTraces {
		for _, t := range out.Traces {
			rep.Traces = append(rep.Traces, TraceReport{
				Index: t.Index, Seed: t.Seed, Phase: t.Phase, Finish: t.Finish, Label: t.Label, Used: t.Used,
				Tokens: t.Tokens, Confidence: TraceConfidence(cfg, t.Confidence), Text: t.Text,
			})
		}
	}
	return rep, choices
}
