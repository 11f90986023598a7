package controller

import (
	"math"
	"reflect"
	"testing"

	"github.com/deepconf/deepconf/record"
)

// TestFilteredVote checks the replayable vote against hand-computed tallies:
// V(a) = Σ of the kept traces' confidences with label a, the top ⌈η·n⌉
// traces by confidence kept (at least one), non-positive and NaN
// confidences weighted MinVoteWeight.
func TestFilteredVote(t *testing.T) {
	R, C := record.Refusal, record.Compliance
	tests := []struct {
		name   string
		labels []string
		confs  []float64
		keep   float64
		kept   []int
		winner string
		beta   float64
	}{
		// 3 vs 1 + 1.5 = 2.5: refusal, β = 3/5.5.
		{"all", []string{R, C, C}, []float64{3, 1, 1.5}, 1, []int{0, 1, 2}, R, 3 / 5.5},
		// ⌈0.5·3⌉ = 2 kept: traces 0 and 2, 3 vs 1.5.
		{"half", []string{R, C, C}, []float64{3, 1, 1.5}, 0.5, []int{0, 2}, R, 3 / 4.5},
		// ⌈0.1·3⌉ = 1 kept: the most confident, trace 1.
		{"top one", []string{R, C, C}, []float64{1, 4, 2}, 0.1, []int{1}, C, 1},
		// 0 and −1 weigh MinVoteWeight each: a tie, the first-seen label
		// wins with β = 1/2.
		{"floor", []string{C, R}, []float64{0, -1}, 1, []int{0, 1}, C, 0.5},
		// NaN weighs MinVoteWeight: 2 outweighs it.
		{"nan", []string{R, C}, []float64{math.NaN(), 2}, 1, []int{0, 1}, C, 2 / (2 + MinVoteWeight)},
		// An abstaining trace is kept by the filter but does not vote.
		{"abstain", []string{"", R}, []float64{5, 1}, 0.5, []int{0}, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl, kept, err := FilteredVote(tt.labels, tt.confs, tt.keep)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(kept, tt.kept) || tl.Winner != tt.winner || math.Abs(tl.Beta-tt.beta) > 1e-15 {
				t.Errorf("kept %v, winner %q, β %v; want %v, %q, %v", kept, tl.Winner, tl.Beta, tt.kept, tt.winner, tt.beta)
			}
		})
	}
	if _, _, err := FilteredVote([]string{R}, []float64{1, 2}, 1); err == nil {
		t.Error("labels and confidences of different lengths: no error")
	}
	if _, _, err := FilteredVote([]string{R}, []float64{1}, 0); err == nil {
		t.Error("keep 0: no error")
	}
}

func TestVoteWeight(t *testing.T) {
	for _, tt := range []struct{ c, want float64 }{{2.5, 2.5}, {MinVoteWeight, MinVoteWeight}, {0, MinVoteWeight}, {-3, MinVoteWeight}, {math.NaN(), MinVoteWeight}} {
		if got := VoteWeight(tt.c); got != tt.want {
			t.Errorf("VoteWeight(%v) = %v, want %v", tt.c, got, tt.want)
		}
	}
}
