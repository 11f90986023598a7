package stats_test

import (
	"fmt"

	"github.com/deepconf/deepconf/stats"
)

// A model's vote shares read as probabilities of a correct answer: the
// calibration error with equal-mass bins and the Brier decomposition.
func ExampleForecasts_Evaluate() {
	p := []float64{0.55, 0.6, 0.7, 0.75, 0.8, 0.9, 0.9, 0.95, 1, 1}
	correct := []bool{false, true, true, false, true, true, true, true, true, false}
	f, err := stats.NewForecasts(p, correct)
	if err != nil {
		panic(err)
	}
	s, err := f.Evaluate(2, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("ECE %.3f in %d bins; Brier %.4f = %.4f − %.4f + %.4f\n",
		s.ECE, s.Bins, s.Brier, s.Reliability, s.Resolution, s.Uncertainty)
	// Output: ECE 0.115 in 2 bins; Brier 0.2178 = 0.1678 − 0.1600 + 0.2100
}

// Abstaining on the least confident answers: the area under the
// risk–coverage curve against the oracle and random orders, and the
// coverage at which the risk stays at or below 20%.
func ExampleSelective_Evaluate() {
	confidence := []float64{14.2, 9.1, 12.5, 16.0, 8.3, 15.1, 11.0, 13.3}
	wrong := []bool{false, true, false, false, true, false, true, false}
	s, err := stats.NewSelective(confidence, wrong)
	if err != nil {
		panic(err)
	}
	st, err := s.Evaluate(0.2, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("AURC %.3f (oracle %.3f, random %.3f); coverage %.3f at confidence ≥ %.1f\n",
		st.AURC, st.Oracle, st.Random, st.Coverage, st.Threshold)
	// Output: AURC 0.103 (oracle 0.103, random 0.375); coverage 0.750 at confidence ≥ 11.0
}
