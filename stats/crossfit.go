package stats

import (
	"fmt"
	"math/rand/v2"
)

// Fitter fits a map from scores to probabilities of a binary outcome.
type Fitter func(score []float64, outcome []bool) (func(float64) float64, error)

// IsotonicFitter is the Fitter of FitIsotonic with unit weights and outcomes
// as 0/1.
func IsotonicFitter(score []float64, outcome []bool) (func(float64) float64, error) {
	y := make([]float64, len(outcome))
	for i, o := range outcome {
		if o {
			y[i] = 1
		}
	}
	m, err := FitIsotonic(score, y, nil)
	if err != nil {
		return nil, err
	}
	return m.Predict, nil
}

// PlattFitter is the Fitter of FitPlatt.
func PlattFitter(score []float64, outcome []bool) (func(float64) float64, error) {
	m, err := FitPlatt(score, outcome)
	if err != nil {
		return nil, err
	}
	return m.Predict, nil
}

// crossFitStream is the second PCG seed word of the fold assignment.
const crossFitStream = 0x63726f7373666974 // "crossfit"

// StratifiedFolds assigns each of the len(outcome) instances to one of k
// folds, numbered 0 to k−1, stratified by outcome: the positives, in a
// random order, are dealt to the folds in turn, then the negatives,
// continuing from the fold after the last positive's. Every fold then holds
// ⌊n/k⌋ or ⌈n/k⌉ instances and its share of each class differs from the
// overall share by less than one instance. The order comes from a
// math/rand/v2 PCG source seeded with seed: the same outcomes and seed give
// the same folds. It needs 2 ≤ k ≤ n.
func StratifiedFolds(outcome []bool, k int, seed uint64) ([]int, error) {
	n := len(outcome)
	if k < 2 || k > n {
		return nil, fmt.Errorf("stats: folds: %d folds for %d instances: want 2 ≤ k ≤ n: %w", k, n, ErrTooFew)
	}
	var pos, neg []int
	for i, o := range outcome {
		if o {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	rng := rand.New(rand.NewPCG(seed, crossFitStream))
	rng.Shuffle(len(pos), func(i, j int) { pos[i], pos[j] = pos[j], pos[i] })
	rng.Shuffle(len(neg), func(i, j int) { neg[i], neg[j] = neg[j], neg[i] })
	folds := make([]int, n)
	f := 0
	for _, i := range append(pos, neg...) {
		folds[i] = f
		f = (f + 1) % k
	}
	return folds, nil
}

// CrossFit returns the out-of-fold probabilities of the scores: for each
// fold f (folds[i] in 0..k−1, as StratifiedFolds gives), fit maps the scores
// and outcomes of the other folds, and the map scores the instances of fold
// f. No instance is scored by a map fitted on data that include it. Every
// fold numbered below the largest must be non-empty.
func CrossFit(score []float64, outcome []bool, folds []int, fit Fitter) ([]float64, error) {
	n := len(score)
	if len(outcome) != n || len(folds) != n {
		return nil, fmt.Errorf("stats: cross-fit: %d scores, %d outcomes, %d folds: %w", n, len(outcome), len(folds), ErrLength)
	}
	k := 0
	for i, f := range folds {
		if f < 0 {
			return nil, fmt.Errorf("stats: cross-fit: folds[%d] = %d is negative", i, f)
		}
		k = max(k, f+1)
	}
	size := make([]int, k)
	for _, f := range folds {
		size[f]++
	}
	for f, s := range size {
		if s == 0 {
			return nil, fmt.Errorf("stats: cross-fit: fold %d of %d is empty: %w", f, k, ErrTooFew)
		}
	}
	if k < 2 {
		return nil, fmt.Errorf("stats: cross-fit: one fold: nothing to fit on: %w", ErrTooFew)
	}
	out := make([]float64, n)
	trainS := make([]float64, 0, n)
	trainO := make([]bool, 0, n)
	for f := range k {
		trainS, trainO = trainS[:0], trainO[:0]
		for i := range n {
			if folds[i] != f {
				trainS = append(trainS, score[i])
				trainO = append(trainO, outcome[i])
			}
		}
		m, err := fit(trainS, trainO)
		if err != nil {
			return nil, fmt.Errorf("stats: cross-fit: fold %d: %w", f, err)
		}
		for i := range n {
			if folds[i] == f {
				out[i] = m(score[i])
			}
		}
	}
	return out, nil
}
