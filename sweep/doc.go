// Package sweep evaluates sampling policies offline on a finished run's
// stored traces: deepconf sweep, the replayed baselines of
// deepconf analyze, and, in prototype mode, the prototype's two post-hoc
// percentile simulators.
//
// # Replay
//
// Load streams traces.jsonl with all cores (store.ScanTracesWith, which
// also runs the re-labelling detectors) and groups the traces by
// instance, keeping what controller.Replay needs: per trace its seed, finish
// reason, label and per-token confidences (float32, exactly as stored); the
// texts and the sampled tokens' log-probabilities only on request. The
// per-token arrays are cut out of each line and parsed by a dedicated
// float32 scanner, which restores the stored values bit for bit; the rest of
// the line goes through encoding/json. A ToxicChat-sized run (5,083
// instances × 10 traces × 256 tokens, 360 MB of JSON) loads in about 2 s
// into about 150 MB.
//
// Pool.Sweep replays each Setting (a controller.Config, the labels to use
// and a confidence split) on every instance with controller.Replay, in
// parallel with deterministic results, and scores it with package analysis'
// refusal scoring (analysis.Analyze on the replayed predictions): accuracy
// with its Wilson interval, balanced accuracy, sensitivity (refusal rate on
// harmful prompts), specificity (compliance rate on benign prompts), the
// unsafe-compliance rate, the hypothesis' uncertain − confident unsafe-rate
// difference under the split, and the cost: traces started, tokens
// generated (early-stopped and cancelled traces included), the
// early-stopped share and the savings against the run's own tokens on the
// same instances. Replaying the run's own configuration reproduces its
// predictions and trace records exactly. A setting that needs a trace the
// run did not store (a larger budget, more warm-up traces, or the rest of a
// trace the run stopped early) cannot be replayed on that instance: the
// instance is counted in Result.NotReplayed with the reason, and left out
// of the setting's rates and costs.
//
// Grid builds settings as the cartesian product of value lists (policy,
// percentile or η, window, warm-up, budget, τ, metric, minimum tokens,
// minimum voters, early stop, detector, split); unswept dimensions keep the
// run's own configuration (RunConfig: run.json's config.policy). Detectors
// other than the stored labels are rule-based detectors (refusal.New
// "patterns", "patterns:seed") applied by Load to the stored texts of the
// traces that were labelled. As the run's own detector, they see only the
// answer of a trace that reasons: Load splits the text with the run's
// reasoning markers (run.json engine.reasoning_delimiters, starting inside
// the block when engine.first_prompt opens it) or LoadOptions.Reasoning,
// and a trace that ended inside its reasoning stays unlabelled.
//
// Baselines is the analysis.BaselineFunc of deepconf analyze: single trace,
// fixed-N majority without confidence, DeepConf offline weighted and top-10%
// votes over N complete traces (N = CommonTraces, the complete traces every
// instance stored, unless given), and the run's own configuration, each
// with the traces and tokens it spends.
//
// # Prototype mode
//
// ReadPrototypePredictions reads the prototype's predictions fields (traces,
// confidences, refused, tokens_per_trace, and wildguard_harmful when
// present) from the prototype's files or deepconf runs. SimulateThreshold
// is analyze_threshold_sensitivity.py (docs/prototype.md §8.1: running mean,
// one trace at a time, the any() keyword rule, token-based savings, stdout
// only: ThresholdTables) and SimulateComprehensive is
// comprehensive_percentile_analysis.py (§8.2: percentiles 20…90, an
// individual trace ≥ the threshold from the third trace on, the 11-phrase
// rule, trace-based savings), whose PercentileAnalysis.MarshalJSON writes
// the prototype's percentile JSON byte for byte (§8.2).
package sweep
