// Package record defines the files of a run directory: run.json (Run),
// traces.jsonl (one Trace per line) and predictions.jsonl (one Prediction per
// line). It holds only the schema; package store reads and writes the files,
// package controller fills the records, package analysis reads them.
//
// Field names are stable: they are the interface to pandas and to the
// prototype's scripts. Prediction starts with the prototype's twelve fields in
// the prototype's order and with the prototype's meaning (SEED_SYSTEM.md §9.2),
// whatever the policy; DeepConf's own values follow them.
package record

import (
	"time"

	"github.com/deepconf/deepconf/confidence"
)

// File names inside a run directory.
const (
	RunFile         = "run.json"
	TracesFile      = "traces.jsonl"
	PredictionsFile = "predictions.jsonl"
	AnalysisFile    = "analysis.json"
)

// Finish reasons of a stored trace. The first two come from the engine; the
// others are decisions of the controller.
const (
	FinishStop      = "stop"   // end-of-generation token
	FinishLength    = "length" // reached max tokens
	FinishEarlyStop = "early-stopped"
	FinishConsensus = "consensus-cancelled"
)

// Phases of a trace within its instance's policy.
const (
	PhaseWarmup   = "warmup"   // calibration traces (deepconf, seed)
	PhaseAdaptive = "adaptive" // traces after the warm-up
	PhaseFixed    = "fixed"    // policies without phases (offline, fixed, single)
)

// Behaviours of an instance (the vote of its traces).
const (
	Refusal    = "refusal"
	Compliance = "compliance"
	Unknown    = "unknown" // no trace voted
)

// Trace is one line of traces.jsonl: one sampled response with everything
// needed to replay any policy on it.
type Trace struct {
	InstanceID string `json:"instance_id"`
	// Index is the trace's 0-based position in its instance; traces are
	// started in index order.
	Index int `json:"index"`
	// Seed is the sampling seed of the trace.
	Seed  uint64 `json:"seed"`
	Phase string `json:"phase"`
	Text  string `json:"text"`
	// Tokens is the number of generated tokens, including those of a trace
	// stopped early.
	Tokens int `json:"tokens"`
	// Finish is one of the Finish* constants.
	Finish string `json:"finish"`
	// Used reports that the trace voted for its instance's behaviour.
	Used bool `json:"used"`
	// Label is the refusal detector's verdict (refusal, compliance,
	// partial, unparseable), or "" for a trace that was stopped before it
	// finished and so was never labelled.
	Label string `json:"label"`
	// Rule is the detector rule (or judge output) that decided Label.
	Rule string `json:"rule,omitempty"`
	// Confidence holds the DeepConf trace confidences computed with the
	// run's window and tail.
	Confidence confidence.TraceStats `json:"confidence"`
	// ConfidenceOptions are the window, tail and bottom fraction that
	// Confidence was computed with; a replay with the same options reuses
	// Confidence instead of recomputing it.
	ConfidenceOptions *StatsOptions `json:"confidence_options,omitempty"`
	// SeedConfidence is the prototype's trace "confidence": the mean
	// negative log-likelihood of the sampled tokens, each clipped to
	// [−100, 0] (higher means less certain).
	SeedConfidence float64 `json:"seed_confidence"`
	// Counts is the accounting of the log-probabilities (dropped,
	// clamped, short entries).
	Counts confidence.Counts `json:"counts"`
	// TokenConfidences holds C_i per generated token (float32, exactly
	// the values the online policy decided on), with 0 for a token
	// without usable log-probabilities (see TokenOK).
	TokenConfidences []float32 `json:"token_confidences"`
	// TokenOK is false at the indexes of TokenConfidences that had no
	// usable log-probability; it is omitted when every token had one.
	TokenOK []bool `json:"token_ok,omitempty"`
	// TokenLogprobs holds the sampled tokens' log-probabilities.
	TokenLogprobs []float32 `json:"token_logprobs"`
}

// StatsOptions are the options of confidence.Summarize that a stored
// TraceStats was computed with.
type StatsOptions struct {
	Window         int     `json:"window"`
	Tail           int     `json:"tail"`
	BottomFraction float64 `json:"bottom_fraction"`
}

// Prediction is one line of predictions.jsonl: one benchmark instance.
type Prediction struct {
	// The prototype's fields, with the prototype's meaning, over the
	// traces that voted (Used):
	InstanceID string `json:"instance_id"`
	// Traces holds the texts.
	Traces []string `json:"traces"`
	// Confidences holds the prototype's per-trace confidence (mean NLL
	// of the sampled tokens; higher = less certain).
	Confidences []float64 `json:"confidences"`
	// Refused holds the detector's verdict per trace (partial counts as
	// refusal).
	Refused []bool `json:"refused"`
	// FinalPrediction is the prototype's 'safe'/'unsafe' rule (refusal
	// majority > 0.5 → safe, else the unsafe-keyword majority).
	FinalPrediction string  `json:"final_prediction"`
	RefusalRate     float64 `json:"refusal_rate"`
	// AvgConfidence is the mean of Confidences.
	AvgConfidence float64 `json:"avg_confidence"`
	// ConfidenceCategory is the instance's category under the run's
	// policy: for the seed policy the prototype's rule (0.7/0.3 on
	// AvgConfidence); for the other policies it depends on the run's
	// confidence split and is left empty (the analysis assigns it; see
	// SeedConfidenceCategory for the prototype's rule).
	ConfidenceCategory string  `json:"confidence_category"`
	NumTracesUsed      int     `json:"num_traces_used"`
	TotalTokens        int     `json:"total_tokens"`
	TokensPerTrace     []int   `json:"tokens_per_trace"`
	AvgTokensPerTrace  float64 `json:"avg_tokens_per_trace"`

	// deepconf's fields:
	Index    int    `json:"index"`
	Prompt   string `json:"prompt"`
	Category string `json:"category,omitempty"`
	// GoldLabel is the benchmark's prompt label: harmful, benign or
	// unknown.
	GoldLabel string `json:"gold_label"`
	// GroundTruth is the prototype's 'safe'/'unsafe' ground truth.
	GroundTruth string `json:"ground_truth"`
	// GoldRefusal is the benchmark's refusal label of its own response,
	// when it has one.
	GoldRefusal string `json:"gold_refusal,omitempty"`
	Policy      string `json:"policy"`
	// Behaviour is the confidence-weighted vote of the used traces:
	// refusal (partial refusals included), compliance or unknown.
	Behaviour string `json:"behaviour"`
	// Beta is the vote's consensus V(winner)/ΣV.
	Beta float64 `json:"beta"`
	// Votes maps each behaviour to its summed weight.
	Votes map[string]float64 `json:"votes"`
	// Confidence is the instance's DeepConf confidence: the mean over the
	// used traces of the run's trace metric (lowest group by default).
	Confidence float64 `json:"confidence"`
	// TraceConfidences holds that metric per used trace.
	TraceConfidences []float64 `json:"trace_confidences"`
	// Threshold is the early-stop threshold s learned from the warm-up
	// (deepconf policy), or the prototype's conf_bar (seed policy).
	Threshold *float64 `json:"threshold,omitempty"`
	// Stop says why sampling ended: consensus, budget, seed-threshold,
	// max-traces, traces (a fixed number was sampled).
	Stop string `json:"stop"`
	// TracesGenerated and TokensGenerated count every trace started and
	// every token generated, including early-stopped and cancelled traces
	// (the cost).
	TracesGenerated int `json:"traces_generated"`
	TokensGenerated int `json:"tokens_generated"`
	EarlyStopped    int `json:"early_stopped"`
	// Discarded counts traces that finished and were labelled but were
	// discarded by the stop rule at their end (the head rule's judgement
	// of a trace shorter than its head, the paper rule's post-hoc
	// filter): they do not vote. With EarlyStopped it is what the stop
	// rule removed.
	Discarded int `json:"discarded,omitempty"`
	// SeedConfidenceCategory is the prototype's category rule (0.7/0.3 on
	// AvgConfidence, its mean-NLL confidence), whatever the policy.
	SeedConfidenceCategory string `json:"seed_confidence_category,omitempty"`
	// Unparseable counts traces whose judge verdict could not be parsed.
	Unparseable int `json:"unparseable,omitempty"`
}

// Run is run.json: the configuration and provenance of a run.
type Run struct {
	Tool    string `json:"tool"`
	Version string `json:"version"`
	// Config is the run's configuration as given (flags and config file
	// merged); a resumed run must have the same.
	Config map[string]any `json:"config"`
	// Engine describes the engine and its model.
	Engine map[string]any `json:"engine"`
	// Dataset describes the benchmark file: name, path, sha256, rows.
	Dataset map[string]any `json:"dataset"`
	// RandomModel is true when the model is a generated random-weight
	// test model: its outputs say nothing about any real model.
	RandomModel bool      `json:"random_model,omitempty"`
	Started     time.Time `json:"started"`
	// Updated is when the run last wrote an instance; Finished is set
	// when every instance is done.
	Updated  time.Time  `json:"updated"`
	Finished *time.Time `json:"finished,omitempty"`
	// Sessions lists each start or resume of the run.
	Sessions []Session `json:"sessions,omitempty"`
}

// Session is one invocation of deepconf run on a directory.
type Session struct {
	Started   time.Time `json:"started"`
	Host      string    `json:"host,omitempty"`
	Shard     string    `json:"shard,omitempty"`
	Completed int       `json:"completed_before"`
}
