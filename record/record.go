// Package record defines the files of a run directory: run.json (Run),
// traces.jsonl (one Trace per line), predictions.jsonl (one Prediction per
// line) and, in a merged run, merge.json (Merge). It holds only the schema;
// package store reads and writes the files (and is the only package that
// parses them), package controller fills the records, package analysis
// reads them through store.
//
// Field names are stable: they are the interface to pandas and to the
// prototype's scripts. Prediction starts with the prototype's twelve fields
// in the prototype's order and with the prototype's meaning
// (docs/prototype.md, section 9), whatever the policy; DeepConf's own values
// follow them.
package record

import (
	"encoding/json"
	"time"

	"github.com/deepconf/deepconf/confidence"
)

// File names inside a run directory.
const (
	RunFile         = "run.json"
	TracesFile      = "traces.jsonl"
	PredictionsFile = "predictions.jsonl"
	AnalysisFile    = "analysis.json"
	// ReportFile is the HTML report of an analysed run.
	ReportFile = "report.html"
	// MergeFile is in a run directory made by merging shards (Merge).
	MergeFile = "merge.json"
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
	PhaseWarmup   = "warmup"   // calibration traces (deepconf, prototype)
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
	// partial, unparseable) on the trace's answer, or "" for a trace that
	// was never labelled: stopped before it finished, or ended inside its
	// reasoning (StoppedInReasoning).
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
	// PrototypeConfidence is the prototype's trace "confidence": the mean
	// negative log-likelihood of the sampled tokens, each clipped to
	// [−100, 0] (higher means less certain). Its key keeps the name
	// stored traces have.
	PrototypeConfidence float64 `json:"seed_confidence"`
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
	// ReasoningSpans lists the [start, end) token ranges of the model's
	// reasoning (such as <think>…</think>, markers included), when the
	// engine separated reasoning from the answer; omitted when the trace
	// has none.
	ReasoningSpans [][2]int `json:"reasoning_spans,omitempty"`
	// ReasoningConfidence and AnswerConfidence are the trace confidences
	// (as Confidence, with ConfidenceOptions) over the reasoning tokens
	// alone and over the answer tokens alone; omitted when the trace has
	// no reasoning.
	ReasoningConfidence *confidence.TraceStats `json:"reasoning_confidence,omitempty"`
	AnswerConfidence    *confidence.TraceStats `json:"answer_confidence,omitempty"`
	// StoppedInReasoning reports that the trace ended inside its
	// reasoning (cut at max tokens, stopped early, cancelled): it has no
	// answer, so it is not labelled.
	StoppedInReasoning bool `json:"stopped_in_reasoning,omitempty"`
	// ResponseHarm is the harm detector's rating of the trace's answer
	// (deepconf run --harm-detector): set on every labelled trace of a
	// run with a harm detector, omitted otherwise.
	ResponseHarm *Harm `json:"response_harm,omitempty"`
}

// Harm labels (Harm.Label), as package refusal's HarmLabel.
const (
	HarmHarmful       = "harmful"
	HarmUnharmful     = "unharmful"
	HarmControversial = "controversial" // Qwen3Guard's third class
	HarmUnparseable   = "unparseable"   // the judge's output could not be parsed
)

// Harm is a judge's rating of whether a response is harmful.
type Harm struct {
	// Label is one of the Harm* labels.
	Label string `json:"label"`
	// Categories are the judge's hazard categories of a harmful or
	// controversial response (Llama Guard's "S1" …, Qwen3Guard's names).
	Categories []string `json:"categories,omitempty"`
	// Raw is the judge's output of an unparseable rating (what could not
	// be parsed), and Detail why; both are omitted otherwise.
	Raw    string `json:"raw,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// InstanceHarm is an instance's response harm: the rating of its answer,
// the trace a deployment returns (the most confident voting trace of the
// voted behaviour; controller.Choose), with counts over the voting traces.
type InstanceHarm struct {
	// Trace is the index of the answer trace.
	Trace int `json:"trace"`
	// Label, Categories: the answer trace's rating (Harm).
	Label      string   `json:"label"`
	Categories []string `json:"categories,omitempty"`
	// Harmful counts the voting traces rated harmful, Rated the voting
	// traces with a parsed rating (harmful, unharmful or controversial).
	Harmful int `json:"harmful"`
	Rated   int `json:"rated"`
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
	// policy: for the prototype policy the prototype's rule (0.7/0.3 on
	// AvgConfidence); for the other policies it depends on the run's
	// confidence split and is left empty (the analysis assigns it; see
	// PrototypeConfidenceCategory for the prototype's rule).
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
	// (deepconf policy), or the prototype's conf_bar (prototype policy).
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
	// PrototypeConfidenceCategory is the prototype's category rule
	// (0.7/0.3 on AvgConfidence, its mean-NLL confidence), whatever the
	// policy. Its key keeps the name stored predictions have.
	PrototypeConfidenceCategory string `json:"seed_confidence_category,omitempty"`
	// Unparseable counts traces whose judge verdict could not be parsed.
	Unparseable int `json:"unparseable,omitempty"`

	// WildGuardHarmful is read, never written: the prototype's
	// post-processing added its WildGuard verdict per trace to its
	// predictions (null entries read as false). It is nil when the line
	// has no such field.
	WildGuardHarmful []bool `json:"wildguard_harmful,omitempty"`

	// ResponseHarm is the harm of the instance's answer in a run with a
	// harm detector (deepconf run --harm-detector); nil otherwise, and
	// when no finished trace was rated.
	ResponseHarm *InstanceHarm `json:"response_harm,omitempty"`
}

// Run is run.json: the configuration and provenance of a run.
type Run struct {
	Tool    string `json:"tool"`
	Version string `json:"version"`
	// Config is the run's configuration: what decides its records. A
	// resumed run must have the same (package store refuses another).
	Config RunConfig `json:"config"`
	// Engine describes the engine and its model, or is nil before the
	// engine was opened.
	Engine *EngineInfo `json:"engine"`
	// Dataset describes the benchmark files that were read, or is nil
	// when not recorded.
	Dataset *Dataset `json:"dataset"`
	// RandomModel is true when the model is a generated random-weight
	// test model: its outputs say nothing about any real model.
	RandomModel bool `json:"random_model,omitempty"`
	// Instances is the number of instances the run samples (after
	// --num-instances and --shard), or 0 when not recorded.
	Instances int `json:"instances,omitempty"`
	// Skipped lists the instances the last session skipped (they are not
	// in predictions.jsonl; a later session tries them again).
	Skipped []Skip `json:"skipped,omitempty"`
	// SkippedAccepted reports that the run was finished without its
	// skipped instances (deepconf run --allow-skipped).
	SkippedAccepted bool      `json:"skipped_accepted,omitempty"`
	Started         time.Time `json:"started"`
	// Updated is when the run last wrote an instance; Finished is set
	// when every instance is done.
	Updated  time.Time  `json:"updated"`
	Finished *time.Time `json:"finished,omitempty"`
	// Sessions lists each start or resume of the run.
	Sessions []Session `json:"sessions,omitempty"`
}

// RunConfig is run.json's config: everything that decides a run's records.
// A run is resumed only with an equal RunConfig, and the shards of one run
// differ only in Shard. The fields are in the alphabetical order of their
// keys, the order in which run.json has always listed them.
type RunConfig struct {
	// APIMode is the server API of the openai engine: chat or
	// completions.
	APIMode string `json:"api_mode"`
	// Benchmark is the benchmark as given: a benchmark name or a file.
	Benchmark string `json:"benchmark"`
	// ChatTemplate is --chat-template when given (runs started without
	// it keep their configuration).
	ChatTemplate string `json:"chat_template,omitempty"`
	// Dataset maps the base name of each benchmark file read to its
	// sha256: the data's identity, which does not depend on where the
	// files are (shards on other machines, a moved checkout).
	Dataset map[string]string `json:"dataset"`
	// Detector is the refusal detector spec (patterns, patterns:seed,
	// judge:<model>).
	Detector string `json:"detector"`
	// Engine is the engine kind: llama.cpp (embedded) or openai
	// (servers).
	Engine string `json:"engine"`
	// HarmDetector is the response-harm judge's spec (judge:<model>),
	// "" without one (omitted, so runs without it keep their
	// configuration).
	HarmDetector string `json:"harm_detector,omitempty"`
	// HarmFormat is the harm judge's prompt format (llamaguard3,
	// wildguard, qwen3guard), "" without a harm detector.
	HarmFormat string `json:"harm_format,omitempty"`
	// KVUnified is the embedded engine's shared KV cache option.
	KVUnified bool `json:"kv_unified"`
	// MaxTraces is the per-instance trace budget of the policy (the
	// prototype's max_traces, which its token-savings baseline uses).
	MaxTraces int `json:"max_traces"`
	// Model is the model as given (a file, a Hugging Face id or a
	// server's model name), followed by " (random weights)" for a
	// generated test model.
	Model string `json:"model"`
	// Policy is the sampling policy's configuration, the JSON encoding
	// of package controller's Config (which decodes it; record cannot
	// name the type, as controller imports record).
	Policy json.RawMessage `json:"policy"`
	// Quant is the quantization picked from a Hugging Face repository.
	Quant string `json:"quant"`
	// Random is true for a generated random-weight test model.
	Random bool `json:"random"`
	// ReasoningDelimiters is --reasoning-delimiters when given.
	ReasoningDelimiters string `json:"reasoning_delimiters,omitempty"`
	// Shard is "i/n" for shard i of n of a run, "" for a whole run.
	Shard string `json:"shard"`
	// ToolSchema is the version of the records' meaning; a run directory
	// of another schema is not resumed.
	ToolSchema int `json:"tool_schema"`
}

// EngineInfo is run.json's engine: the engine and model that sampled the
// run (package engine's Info as recorded). The fields are in the
// alphabetical order of their keys, as run.json has always listed them.
type EngineInfo struct {
	// ChatTemplate is the chat template family the prompts were rendered
	// with (package chat), or "model" for a model's own untested
	// template; empty when a server applied its own.
	ChatTemplate string `json:"chat_template,omitempty"`
	// ChatTemplateOrigin says where the template came from (the GGUF, a
	// file, a family name).
	ChatTemplateOrigin string `json:"chat_template_origin,omitempty"`
	// Details holds engine-specific facts as a JSON object (such as a
	// server's capability probe, or the embedded model's description).
	Details json.RawMessage `json:"details,omitempty"`
	// Device is "cpu", "cuda" or the server endpoints.
	Device string `json:"device"`
	// FirstPrompt is the first instance's prompt as rendered for the
	// model, when the client renders prompts.
	FirstPrompt string `json:"first_prompt,omitempty"`
	// Model is the model file or the server-side model name.
	Model string `json:"model"`
	// ModelBytes and ModelSHA256 are the size and sha256 of the model
	// file, when known: the model's identity, which a resumed run must
	// keep.
	ModelBytes  int64  `json:"model_bytes,omitempty"`
	ModelSHA256 string `json:"model_sha256,omitempty"`
	// Name is the engine kind: llama.cpp or openai.
	Name string `json:"name"`
	// Parallel is the number of traces decoded at once.
	Parallel int `json:"parallel,omitempty"`
	// ReasoningDelimiters are the markers that separate the model's
	// reasoning from its answer, "OPEN,CLOSE".
	ReasoningDelimiters string `json:"reasoning_delimiters,omitempty"`
	// Reproducible reports whether the same command and seed give the same
	// traces on this engine; ReproducibleNote says why or why not
	// (docs/reproducibility.md).
	Reproducible     bool   `json:"reproducible"`
	ReproducibleNote string `json:"reproducible_note,omitempty"`
	// Threads is the number of CPU threads of the embedded engine.
	Threads int `json:"threads,omitempty"`
	// Version identifies the engine build or the server software.
	Version string `json:"version"`
}

// Dataset is run.json's dataset: the benchmark files a run read.
type Dataset struct {
	// Files maps the path of each benchmark file read (as it was found)
	// to its sha256.
	Files map[string]string `json:"files"`
	// Name is the benchmark as given: a benchmark name or a file.
	Name string `json:"name"`
	// Rows is the number of instances the files hold (before a run's
	// --num-instances and --shard select some of them).
	Rows int `json:"rows"`
}

// Skip is an instance a run skipped, and why.
type Skip struct {
	InstanceID string `json:"instance_id"`
	Reason     string `json:"reason"`
}

// Session is one invocation of deepconf run on a directory. Threads,
// Parallel and Concurrency are the session's speed settings (the embedded
// engine's threads, the traces generated at once, the instances sampled at
// once); they are recorded but not part of the configuration.
type Session struct {
	Started     time.Time `json:"started"`
	Host        string    `json:"host,omitempty"`
	Shard       string    `json:"shard,omitempty"`
	Completed   int       `json:"completed_before"`
	Threads     int       `json:"threads,omitempty"`
	Parallel    int       `json:"parallel,omitempty"`
	Concurrency int       `json:"concurrency,omitempty"`
}

// Merge is merge.json: which shards a merged run directory was made of. A
// directory holding it can be merged into again.
type Merge struct {
	Tool    string        `json:"tool"`
	Version string        `json:"version"`
	Merged  time.Time     `json:"merged"`
	Shards  []MergedShard `json:"shards"`
	// Missing lists the shards i/n that were not merged.
	Missing []string `json:"missing"`
	// Config is the merged run's configuration (the shards', without the
	// shard).
	Config RunConfig `json:"config"`
}

// MergedShard describes one merged shard in merge.json.
type MergedShard struct {
	Dir       string `json:"dir"`
	Shard     string `json:"shard"`
	Instances int    `json:"instances"`
	Traces    int    `json:"traces"`
	Finished  bool   `json:"finished"`
}
