package controller

import (
	"fmt"

	"github.com/deepconf/deepconf/confidence"
)

// MinVoteWeight is the vote weight of a trace whose confidence is not above
// it (an empty trace has confidence 0): every voter keeps a tiny positive
// weight (docs/method.md, pitfall P11).
const MinVoteWeight = 1e-9

// VoteWeight returns the vote weight of a trace of confidence c: c, or
// MinVoteWeight when c is not above it (NaN included).
func VoteWeight(c float64) float64 {
	if !(c > MinVoteWeight) {
		return MinVoteWeight
	}
	return c
}

// keepTop returns the indices, in ascending order, of the top keep fraction
// of the voters by weight: max(1, ⌈keep·n⌉) of them, equal weights kept in
// trace order (confidence.TopFilter's KeepCount rule).
func keepTop(weights []float64, keep float64) ([]int, error) {
	return confidence.TopFilter(weights, keep, confidence.KeepCount)
}

// weightedVote is the confidence-weighted vote of the voters: labels[i]
// ("" abstains) with weight weights[i].
func weightedVote(labels []string, weights []float64) (confidence.Tally, error) {
	ballots := make([]confidence.Ballot, len(labels))
	for i, l := range labels {
		ballots[i] = confidence.Ballot{Label: l, Weight: weights[i]}
	}
	return confidence.WeightedVote(ballots)
}

// FilteredVote is the vote the controller casts on finished traces, for
// callers that replay it from stored ones: each trace's confidence confs[i]
// becomes its weight (VoteWeight), the top keep fraction of the traces by
// weight is kept (max(1, ⌈keep·n⌉), ties in trace order; keep = 1 keeps
// every trace), and the kept traces vote with their labels (record.Refusal,
// record.Compliance; "" abstains) weighted by confidence. keep is DeepConf's
// η in (0, 1]. It returns the tally and the indices of the kept traces.
func FilteredVote(labels []string, confs []float64, keep float64) (confidence.Tally, []int, error) {
	if len(labels) != len(confs) {
		return confidence.Tally{}, nil, fmt.Errorf("filtered vote: %d labels for %d confidences", len(labels), len(confs))
	}
	weights := make([]float64, len(confs))
	for i, c := range confs {
		weights[i] = VoteWeight(c)
	}
	kept, err := keepTop(weights, keep)
	if err != nil {
		return confidence.Tally{}, nil, err
	}
	kl := make([]string, len(kept))
	kw := make([]float64, len(kept))
	for j, i := range kept {
		kl[j], kw[j] = labels[i], weights[i]
	}
	tl, err := weightedVote(kl, kw)
	return tl, kept, err
}
