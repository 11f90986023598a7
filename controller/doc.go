// Package controller runs a sampling policy on one benchmark instance: it
// starts traces on an engine, scores every token with package confidence,
// stops weak traces early, labels finished traces with a refusal detector,
// votes, and decides when to stop sampling. The same policy logic runs on
// stored traces (Replay), so any policy can be re-run on a finished run
// without the model and makes the decisions it made online.
//
// # Policies
//
//   - deepconf: DeepConf online (paper Algorithm 2) with a length-fair stop
//     rule. Warmup complete traces; from them the stop rule learns its
//     threshold (StopRule, Quantile); further traces are stopped or
//     discarded by the rule; after each finished trace the
//     confidence-weighted vote's consensus β is checked and sampling stops
//     at β ≥ τ (with at least MinVoters voters) or when Budget traces were
//     started. Stopped and discarded traces do not vote (the paper discards
//     them).
//   - offline: Traces complete traces, then majority, weighted or top-η
//     filtered weighted vote.
//   - fixed: Traces complete traces, plain majority (self-consistency).
//   - single: one trace.
//   - prototype (PolicyPrototype, stored as "seed"): the Python
//     prototype's rule exactly (docs/prototype.md §3): 3 warm-up traces,
//     conf_bar = numpy's 90th percentile of their mean-NLL "confidence",
//     then batches of 3 while the running mean of all confidences is below
//     conf_bar (stop at ≥), at most 10 — so 3, 6, 9 or 10 traces.
//
// Votes are over behaviours: a partial refusal counts as a refusal, an
// unparseable judge verdict abstains, and a trace stopped before it finished
// has no label and abstains.
//
// With WithHarmDetector every labelled trace's answer is also rated by a
// harm judge (record.Trace.ResponseHarm), and the instance's answer — the
// first trace of Choose, the one deepconf serve returns — gives
// record.Prediction.ResponseHarm. Replay reads stored ratings and never
// judges (docs/harm.md). Ratings do not vote.
//
// # Stop rules
//
// Safety responses differ in length by behaviour (short refusals, long
// compliances), so a stop rule or a vote weight that depends on length
// biases the vote and the confident/uncertain split
// (docs/length-fair-confidence.md). The threshold always comes from the
// warm-up traces' values of the statistic the rule compares with:
//
//   - StopHead (default): every trace after the warm-up is judged once, on
//     the mean confidence of its first W tokens with data (its head; all of
//     it when shorter), against the (1 − η) quantile of the warm-up traces'
//     heads of the same length. A trace whose head is below is stopped
//     right after its head; a trace that finishes before its head is
//     complete is judged at its end and, below, discarded (it keeps its
//     label, does not vote, and counts in Prediction.Discarded). Every
//     trace, short or long, faces the same chance 1 − η of removal.
//   - StopPaper: s = the (1 − η) quantile of the warm-up traces' lowest
//     group confidence; a trace is stopped as soon as its current group
//     confidence (window full, MinTokens reached) is below s. A long trace
//     has more windows and more chances to fall below s than a short one.
//     PostHoc adds the official code's filter of finished traces (lowest
//     group < s).
//   - StopPosition: the running lowest group at token t against s(t), the
//     quantile of the warm-up traces' running lowest group at t.
//
// Quantile estimators: QuantileNormal (default) is the lower normal
// prediction bound of the warm-up values, passed by a new trace with
// probability 1 − η whatever the warm-up size; QuantileLinear is numpy's
// percentile, the paper's, which with 4 warm-up traces and η = 0.9 is
// passed by about a quarter of new traces, not a tenth.
//
// The vote weight and the instance confidence (Prediction.Confidence) are
// the trace metric (Metric). The default MetricMean, the mean token
// confidence, does not fall with length; MetricLowestGroup (the paper's)
// does.
//
// # Consensus
//
// The consensus is checked right after the warm-up and after every finished
// trace. With the defaults (MinVoters = Warmup = 4, τ = 0.95) an instance
// whose four warm-up traces agree is decided by them, and the stop rule never
// runs on it: this is deliberate — four unanimous samples of a binary
// behaviour are the cheapest strong evidence, and the adaptive phase is for
// instances the model is torn on. On those, β ≥ 0.95 is rarely reached
// (it needs near-unanimity of the weights), so they usually run to the
// budget. Set MinVoters above Warmup to force adaptive traces on every
// instance. Token savings are best judged against replayed baselines that
// spend as many traces (a fixed-N majority of the same stored traces; the
// analysis reports the run's savings against each replayed baseline), not
// only against the budget.
//
// # Determinism
//
// Every trace has its own seed, derived from the run's seed, the instance id
// and the trace index (TraceSeed), so trace i of an instance is the same
// sample whatever the policy, the order of instances, sharding or resuming.
// Finished traces are taken in index order, never in completion order, so
// decisions do not depend on timing. Token confidences are rounded to float32
// before the policy sees them, exactly as they are stored, so a replay makes
// bit-identical decisions. With Parallel > 1 the number of tokens a trace
// generated before a consensus stop cancelled it depends on timing; with the
// default Parallel = 1 (one trace of an instance in flight after the
// warm-up; throughput comes from running many instances at once) nothing
// does.
//
// # Defaults for safety prompts
//
// The paper's settings target 15,000-token math reasoning traces; safety
// responses are short, and the prototype capped them at 256 tokens. Measured
// with Qwen3's tokenizer on the human-labelled responses of the gold sets
// (go test ./controller -run TestDefaultWindowFitsRefusals -v):
//
//	WildGuardTest  refusals (563):   p10 27, p25 50, median 104, p90 277 tokens
//	               compliances:      p10 162, median 420, p90 712
//	XSTest v2      refusals (1,159): p10 10, p25 66, median 143, p90 218
//	               compliances:      p10 50, median 179, p90 238
//
// Window W = 16 (MinTokens = 16). The paper's W = 2,048 is never filled by a
// 256-token response, so the early stop could not fire and the "lowest
// group" would be a plain mean (pitfall P6). W = 2,048 is about 13% of the
// paper's traces; 16 is 11–15% of the median refusal above, is filled by more
// than 75% of refusals in both sets (the test checks it), and still averages
// enough tokens to smooth single-token noise.
//
// Warmup N_init = 4 (paper 16). Outcomes are binary (refuse/comply), not
// open-ended answers, and the prototype used 3 warm-up traces of at most 10;
// 4 keeps the minimum cost of an instance at 4 traces, and with the normal
// quantile estimator the stop rule removes 1 − η of the later traces
// whatever the warm-up size (VALIDATION.md).
//
// Keep η = 0.9, the paper's DeepConf-high (threshold = 10th percentile):
// with only 4 warm-up traces, η = 0.1 (the 90th percentile) would stop about
// nine in ten later traces and discard most of the evidence; DeepConf-high
// was accuracy-neutral in every setting of the paper.
//
// Tau τ = 0.95 (the paper's), MinVoters = 4: β ≥ 0.95 on a binary vote needs
// near-unanimity; requiring 4 voters stops a single warm-up survivor from
// deciding (pitfall P12).
//
// Budget B = 16: above the prototype's 10 so that disagreeing instances get
// more evidence, far below the paper's 512 because CPU decoding of a
// ToxicChat-sized benchmark must stay affordable. Stop rule StopHead with
// QuantileNormal and metric MetricMean: the length-fair choices (see
// "Stop rules"; StopPaper, QuantileLinear and MetricLowestGroup reproduce
// the paper).
//
// Sampling: temperature 0.6, top-p 0.95, top-k 20 (the paper's Qwen3
// settings), at most 256 tokens (the prototype's), k = 20 top
// log-probabilities, thinking off (the prototype's setting). The prototype policy
// uses the prototype's top-k 50.
package controller
