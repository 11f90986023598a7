// Package confidence implements the mathematics of DeepConf ("Deep Think with
// Confidence", arXiv 2508.15260): token confidence from top-k
// log-probabilities, the streaming group window used for early stopping,
// trace-level statistics, numpy-exact percentiles for thresholds, and the
// votes over finished traces. It is pure: no I/O, no engine dependency, no
// package-level state. The Python prototype's functions are in subpackage
// prototype.
//
// # Sign convention
//
// Every confidence in this package is "higher = more confident". The token
// confidence C_i = −(1/k) Σ_{j≤k} log P_i(j) is large when the distribution
// at position i is peaked, because then the k−1 alternatives to the top token
// have tiny probabilities. Typical values for reasoning models are 10–22 with
// k = 20. (The Python prototype's "confidence" is the opposite: a mean
// negative log-likelihood of the sampled tokens; see package prototype.)
//
// # Token confidence
//
// Scorer.Score computes C_i of one generated position (a Position: the
// sampled token's log-probability and id, and the top log-probabilities with
// their ids) in one of two variants:
//
//   - TopK, the paper's form (App. G.4): the mean of the first k entries of
//     the position's top list; the sampled token's own entry is not used.
//   - Official, utils.compute_confidence of the official code: the entries
//     of vLLM's per-position dict, i.e. the top-k plus the sampled token when
//     it is outside the top-k (k or k+1 values), averaged with NumPy's
//     summation in vLLM's order, and −mean rounded to 3 decimals like
//     Python's round.
//
// Robustness rules (both variants; pitfalls P1, P2 of docs/method.md §7):
// NaN, +Inf, −Inf and entries ≤ SentinelLogprob (−9000; vLLM reports −inf
// as −9999) are dropped and counted, never averaged; entries > 0, which a
// log-probability cannot be, are clamped to 0 and counted; the divisor is
// the number of entries actually averaged, reported as TokenScore.KEff
// (k_effective); a position with no usable entry gets OK == false ("no
// data"): it is counted (Counts.Empty) but does not enter the group window,
// so window positions count tokens with data only, as the official code
// skips positions whose log-prob dict is empty. The official code has none
// of these rules: a −inf entry makes its C_i infinite and its running
// window sum NaN, so that trace never stops.
//
// Counts accumulates the accounting (tokens, scored, empty, short,
// dropped non-finite and sentinel entries, clamped entries, sampled-token
// inclusions, minimum k_effective) as a plain struct callers can store.
//
// # Group window and online stop
//
// Window is a ring buffer of the last W confidences with a drift-free
// running sum (Neumaier compensation plus a full recomputation every W
// pushes; error ≤ 1 ulp over 10⁶ pushes in the tests). Push returns the
// current group confidence C_G (the mean of the last W values, or of all
// values before the window is full) and whether the window is full;
// Window.Lowest is the running lowest full-window mean; Window.Below(s) is
// the stop rule "window full and C_G < s", which, as in the paper's patch
// and the official processor, cannot fire before W tokens with data. Push
// refuses non-finite values. Tracker combines a Scorer, a Window and Counts
// for one trace; its per-token path does not allocate. StopIndex replays the
// stop on stored confidences (float64 or float32) for other thresholds or
// window sizes.
//
// # Trace statistics
//
// Summarize computes, from a finished trace's stored confidences (float64 or
// float32), Mean (C_avg), LowestGroup (C_least: the minimum stride-1 window
// mean), Bottom (the mean of the max(1, ⌊fraction·windows⌋) lowest window
// means over the N−W+1 overlapping windows; the paper's bottom-10%) and Tail
// (the mean of the last T tokens). When N < W every group statistic is the
// mean of all tokens (official behaviour; for short refusals this makes
// their "lowest group" incomparable with long traces' minima, pitfall P6). An
// empty trace gives 0 everywhere, as the official code does, and is flagged
// Empty. Native mode uses compensated sums and the same Window as the online
// monitor, so replaying stored confidences reproduces the online minimum
// exactly. StatsOptions.Official reproduces the official utils.py instead:
// window means rounded to 3 decimals in compute_least_grouped (the official
// min_conf), the unrounded running-sum windows of
// calculate_bottom_window_confidence, np.mean elsewhere.
//
// # Percentiles and thresholds
//
// Percentile is numpy.percentile with the default "linear" method, bit for
// bit (NumPy's two-sided interpolation formula included). StopThreshold
// turns the warm-up traces' lowest group confidences into the stop threshold
// s = Percentile(100 − 100·η), where η (keep) is the fraction of traces meant
// to survive: η = 0.1 (DeepConf-low) gives the 90th percentile, η = 0.9
// (DeepConf-high) the 10th (difference D2: the official main and reproduce
// branches disagree on this direction).
//
// # Length-fair statistics
//
// A lowest group confidence is a minimum over N − W + 1 windows, so it falls
// with the trace's length even when every token is equally sure; comparing
// traces of different lengths with it is unfair to the long ones
// (docs/length-fair-confidence.md). PrefixMeans gives the mean of every
// prefix up to a length (the head statistic of the controller's default stop
// rule, comparable between traces at equal length) and RunningLowest the
// lowest group of every prefix. PredictionBound (and Predictor, which caches
// the t quantiles) turns a handful of warm-up values into a threshold that a
// new value from the same normal distribution falls below with probability
// exactly 1 − η, whatever the number of values; numpy's percentile of four
// values is passed by about a quarter of new values at η = 0.9.
//
// # Votes
//
// MajorityVote and WeightedVote (V(a) = Σ_t C_t·1[a_t = a]) tally string
// labels; an empty label abstains (a trace killed early does not vote).
// Ties go to the first-seen label, as Python's max and Counter do in the
// official code, and are reported in Tally.Tied. Tally.Beta is the
// consensus β = V(â)/Σ_a V(a). Weights must be finite and > 0: anything else
// is an error (pitfall P11). TopFilter keeps the top η of traces by
// confidence, either KeepCount (the project's rule: exactly max(1, ⌈η·n⌉)
// traces, ties broken by trace order) or KeepPercentile (the official
// filter_top_confidence: conf ≥ np.percentile(conf, (1−η)·100), which keeps
// every tied trace).
//
// # Differences from the official code
//
// Besides the robustness rules above: the default token confidence is the
// paper's top-k form, not utils.compute_confidence (difference D1), and is
// not rounded; group statistics are unrounded and use compensated sums; a
// vote rejects non-positive weights where the official weighted vote would
// accept them; top-η filtering offers a tie-independent count rule. The
// Official options reproduce the official behaviour where it matters for
// comparisons; Python's builtin sum is taken as in CPython ≥ 3.12
// (compensated), the version the paper pins.
//
// # Differences from the prototype (package prototype)
//
// The prototype scores only the sampled token (k = 1) and reports a mean
// negative log-likelihood, clipped at −100, whose sign is inverted relative
// to DeepConf; its thresholds are percentiles of whole-trace means, not of
// windowed minima, and its stop rule adds traces while the running mean is
// below the 90th percentile of three warm-up traces. Package prototype reproduces
// those functions exactly for compatibility; nothing in this package uses
// them.
//
// The constants Paper* give the paper's settings (k = 20, W = 2048, η, τ =
// 0.95, …) for reproductions; they are not the project's defaults, which the
// controller chooses.
package confidence
