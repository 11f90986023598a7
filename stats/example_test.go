package stats_test

import (
	"fmt"

	"github.com/deepconf/deepconf/stats"
)

// The hypothesis test of the analysis: is uncertain compliance riskier than
// confident compliance? The counts are unsafe compliances among compliant
// instances in each confidence group.
func Example() {
	const unsafeUncertain, uncertain = 31, 120
	const unsafeConfident, confident = 40, 410

	d, err := stats.NewcombeDifference(unsafeUncertain, uncertain, unsafeConfident, confident, 0.95)
	if err != nil {
		panic(err)
	}
	f, err := stats.FisherExact(unsafeUncertain, uncertain-unsafeUncertain, unsafeConfident, confident-unsafeConfident)
	if err != nil {
		panic(err)
	}
	fmt.Printf("unsafe rate %.3f vs %.3f, difference %.3f [%.3f, %.3f]\n", d.P1.Rate, d.P2.Rate, d.Diff, d.Lo, d.Hi)
	fmt.Printf("Fisher one-sided p = %.2g, two-sided p = %.2g\n", f.PGreater, f.PTwoSided)
	// Output:
	// unsafe rate 0.258 vs 0.098, difference 0.161 [0.084, 0.249]
	// Fisher one-sided p = 1.7e-05, two-sided p = 2.4e-05
}

func ExampleWilson() {
	lo, hi := stats.Wilson(81, 263, 0.95)
	fmt.Printf("81/263: %.4f to %.4f\n", lo, hi)
	// Output: 81/263: 0.2553 to 0.3662
}

func ExampleBootstrapAUROC() {
	// Low confidence should flag unsafe compliance: score = −confidence.
	confidence := []float64{0.91, 0.42, 0.88, 0.35, 0.97, 0.51, 0.77, 0.30}
	unsafe := []bool{false, true, false, true, false, false, false, true}
	score := make([]float64, len(confidence))
	for i, c := range confidence {
		score[i] = -c
	}
	r, err := stats.BootstrapAUROC(score, unsafe, 0.95, stats.DefaultResamples, 1)
	if err != nil {
		panic(err)
	}
	fmt.Printf("AUROC %.2f, small sample: %v\n", r.AUC, r.Small)
	// Output: AUROC 1.00, small sample: true
}

func ExampleBenjaminiHochberg() {
	adjusted, err := stats.BenjaminiHochberg([]float64{0.01, 0.04, 0.03, 0.20})
	if err != nil {
		panic(err)
	}
	fmt.Println(adjusted)
	// Output: [0.04 0.05333333333333333 0.05333333333333333 0.2]
}
