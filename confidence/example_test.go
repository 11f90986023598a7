package confidence_test

import (
	"fmt"

	"github.com/deepconf/deepconf/confidence"
)

// The online algorithm in miniature: a threshold from warm-up traces, a
// tracker that stops a weak trace, and a confidence-weighted vote.
func Example() {
	// Lowest group confidences of the warm-up traces; keep the top 90%
	// (DeepConf-high): s is their 10th percentile.
	s, err := confidence.StopThreshold([]float64{10, 11, 12, 13, 14}, confidence.PaperKeepHigh)
	if err != nil {
		panic(err)
	}
	fmt.Printf("threshold %.1f\n", s)

	scorer, err := confidence.NewScorer(2, confidence.TopK)
	if err != nil {
		panic(err)
	}
	tr, err := confidence.NewTracker(scorer, 3)
	if err != nil {
		panic(err)
	}
	// Each generated token's top-2 log-probabilities.
	stream := [][]float64{{-0.01, -20}, {-0.02, -30}, {-0.5, -25}, {-1, -3}, {-2, -3}, {-0.1, -40}}
	for i, top := range stream {
		sc, mean, full := tr.Observe(confidence.Position{ID: -1, Top: top})
		fmt.Printf("token %d: C=%.3f group=%.3f full=%v\n", i, sc.C, mean, full)
		if tr.Window().Below(s) {
			fmt.Println("stop")
			break
		}
	}

	tally, err := confidence.WeightedVote([]confidence.Ballot{
		{Label: "refusal", Weight: 16.5},
		{Label: "compliance", Weight: 15.2},
		{Label: "", Weight: 0}, // stopped early: no label, no vote
		{Label: "refusal", Weight: 17.1},
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s β=%.3f\n", tally.Winner, tally.Beta)
	// Output:
	// threshold 10.4
	// token 0: C=10.005 group=10.005 full=false
	// token 1: C=15.010 group=12.508 full=false
	// token 2: C=12.750 group=12.588 full=true
	// token 3: C=2.000 group=9.920 full=true
	// stop
	// refusal β=0.689
}
