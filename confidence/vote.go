package confidence

import (
	"fmt"
	"math"
	"slices"
)

// Ballot is one finished trace's vote.
type Ballot struct {
	// Label is the trace's answer, compared as a raw string (for safety
	// benchmarks a closed set such as "refusal", "compliance",
	// "partial"). An empty label abstains: a trace killed early or
	// without a judged label does not vote.
	Label string
	// Weight is the trace-level confidence C_t; it must be finite and
	// > 0 for WeightedVote.
	Weight float64
}

// Tally is the outcome of a vote.
type Tally struct {
	// Labels holds the distinct labels in first-seen order.
	Labels []string
	// Votes holds V(a) for each label of Labels: the sum of the weights
	// (the ballot count for MajorityVote).
	Votes []float64
	// Counts holds the number of ballots for each label of Labels.
	Counts []int
	// Winner is the label with the largest V(a); among equal V(a) the
	// first-seen label wins, as Python's max and Counter.most_common do
	// in the official code. It is "" when nobody voted.
	Winner string
	// Tied lists, in first-seen order, every label whose V(a) equals the
	// winner's exactly, the winner included, when there is more than one;
	// it is nil otherwise.
	Tied []string
	// Total is Σ_a V(a).
	Total float64
	// Beta is the consensus β = V(Winner)/Total, 0 when nobody voted.
	Beta float64
	// Voters is the number of ballots with a label.
	Voters int
	// Abstained is the number of ballots without a label.
	Abstained int
}

// MajorityVote is the unweighted vote (Cons@K, the official
// simple_majority_vote): every labelled trace counts 1; empty labels
// abstain.
func MajorityVote(labels []string) Tally {
	var t Tally
	for _, l := range labels {
		t.add(l, 1)
	}
	t.finish()
	return t
}

// WeightedVote is the confidence-weighted vote V(a) = Σ_t C_t·1[a_t = a]
// (the official weighted_majority_vote). Ballots with an empty label
// abstain and their weight is not checked. A labelled ballot whose weight is
// not finite or not > 0 is an error: DeepConf's vote needs positive weights
// (pitfall P11), and a zero or negative weight means a sign convention or a
// "no data" trace slipped through. Weights are summed per label in ballot
// order, as the official code does.
func WeightedVote(ballots []Ballot) (Tally, error) {
	var t Tally
	for i, b := range ballots {
		if b.Label == "" {
			t.Abstained++
			continue
		}
		if !(b.Weight > 0) || math.IsInf(b.Weight, 1) {
			return Tally{}, fmt.Errorf("confidence: ballot %d (%q): weight %v: must be finite and > 0", i, b.Label, b.Weight)
		}
		t.add(b.Label, b.Weight)
	}
	t.finish()
	return t, nil
}

func (t *Tally) add(label string, w float64) {
	if label == "" {
		t.Abstained++
		return
	}
	t.Voters++
	if i := slices.Index(t.Labels, label); i >= 0 {
		t.Votes[i] += w
		t.Counts[i]++
		return
	}
	t.Labels = append(t.Labels, label)
	t.Votes = append(t.Votes, 0.0+w)
	t.Counts = append(t.Counts, 1)
}

func (t *Tally) finish() {
	if t.Voters == 0 {
		return
	}
	best := 0
	for i, v := range t.Votes {
		t.Total += v
		if v > t.Votes[best] {
			best = i
		}
	}
	t.Winner = t.Labels[best]
	t.Beta = t.Votes[best] / t.Total
	var tied []string
	for i, v := range t.Votes {
		if v == t.Votes[best] {
			tied = append(tied, t.Labels[i])
		}
	}
	if len(tied) > 1 {
		t.Tied = tied
	}
}

// FilterRule selects how TopFilter keeps the top η of traces.
type FilterRule int

const (
	// KeepCount keeps exactly max(1, ⌈η·n⌉) traces, the highest
	// confidences first; equal confidences are kept in trace order
	// (earlier first). This is the project's rule (pitfall P13): the
	// number kept does not depend on ties. η·n within 1e-9 of an integer
	// counts as that integer, so η = 0.1, n = 30 keeps 3 despite
	// 0.1·30 = 3.0000000000000004 in floating point.
	KeepCount FilterRule = iota
	// KeepPercentile is the official filter_top_confidence: keep every
	// trace whose confidence is ≥ np.percentile(conf, (1−η)·100). With
	// ties or few traces it keeps more than η·n.
	KeepPercentile
)

// String returns "count" or "percentile".
func (r FilterRule) String() string {
	switch r {
	case KeepCount:
		return "count"
	case KeepPercentile:
		return "percentile"
	}
	return fmt.Sprintf("FilterRule(%d)", int(r))
}

// TopFilter returns the indices, in ascending order, of the traces kept by
// the top-η filter over the trace-level confidences conf (η in (0, 1];
// paper: 0.1 and 0.9). Confidences must be finite.
func TopFilter(conf []float64, eta float64, rule FilterRule) ([]int, error) {
	if !(eta > 0 && eta <= 1) {
		return nil, fmt.Errorf("confidence: top fraction %v: must be in (0, 1]", eta)
	}
	for i, c := range conf {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return nil, fmt.Errorf("confidence: trace %d: confidence %v is not finite", i, c)
		}
	}
	n := len(conf)
	if n == 0 {
		return nil, nil
	}
	switch rule {
	case KeepCount:
		k := int(math.Ceil(float64(eta*float64(n)) - 1e-9))
		k = max(1, min(k, n))
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case conf[a] > conf[b]:
				return -1
			case conf[a] < conf[b]:
				return 1
			}
			return 0
		})
		kept := order[:k]
		slices.Sort(kept)
		return kept, nil
	case KeepPercentile:
		th := Percentile(conf, (1-eta)*100)
		var kept []int
		for i, c := range conf {
			if c >= th {
				kept = append(kept, i)
			}
		}
		return kept, nil
	}
	return nil, fmt.Errorf("confidence: unknown filter rule %d", int(rule))
}
