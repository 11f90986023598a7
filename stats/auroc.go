package stats

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// rankedScores is a binary-labelled sample reduced to its distinct score
// levels, in increasing order: the AUROC and its placements depend on the
// scores only through these counts.
type rankedScores struct {
	pos, neg []int // count of positives and negatives at each level
	posLevel []int // level of each positive, in input order
	negLevel []int // level of each negative, in input order
	nPos     int
	nNeg     int
}

// rankScores validates the input and groups it by distinct score.
func rankScores(scores []float64, positive []bool) (rankedScores, error) {
	if len(scores) != len(positive) {
		return rankedScores{}, fmt.Errorf("%d scores and %d labels: %w", len(scores), len(positive), ErrLength)
	}
	if err := checkFinite("scores", scores); err != nil {
		return rankedScores{}, err
	}
	levels := slices.Clone(scores)
	slices.Sort(levels)
	levels = slices.Compact(levels)
	r := rankedScores{pos: make([]int, len(levels)), neg: make([]int, len(levels))}
	for i, s := range scores {
		l := sort.SearchFloat64s(levels, s)
		if positive[i] {
			r.pos[l]++
			r.posLevel = append(r.posLevel, l)
		} else {
			r.neg[l]++
			r.negLevel = append(r.negLevel, l)
		}
	}
	r.nPos, r.nNeg = len(r.posLevel), len(r.negLevel)
	if r.nPos == 0 || r.nNeg == 0 {
		return rankedScores{}, fmt.Errorf("%d positives and %d negatives: %w", r.nPos, r.nNeg, ErrOneClass)
	}
	return r, nil
}

// aucFromCounts returns the Mann–Whitney AUROC of per-level counts. The
// numerator is accumulated in doubled integer units, so the result is the
// exact fraction rounded once.
func aucFromCounts(pos, neg []int, nPos, nNeg int) float64 {
	var twice, negBelow int64
	for l := range pos {
		twice += int64(pos[l]) * (2*negBelow + int64(neg[l]))
		negBelow += int64(neg[l])
	}
	return float64(twice) / (2 * float64(nPos) * float64(nNeg))
}

// AUROC returns the area under the ROC curve of scores for the binary outcome
// positive: the probability that a random positive scores higher than a
// random negative, ties counting one half (the Mann–Whitney U statistic
// divided by nPos·nNeg). Higher scores must indicate the positive class; to
// detect a positive by a low value (low confidence), pass the negated values.
// Both classes must be present and all scores finite.
func AUROC(scores []float64, positive []bool) (float64, error) {
	r, err := rankScores(scores, positive)
	if err != nil {
		return 0, fmt.Errorf("stats: auroc: %w", err)
	}
	return aucFromCounts(r.pos, r.neg, r.nPos, r.nNeg), nil
}

// DeLongResult is the AUROC with DeLong's nonparametric standard error.
type DeLongResult struct {
	AUC float64
	// SE is the DeLong standard error of AUC.
	SE float64
	// Lo and Hi bound the normal-approximation interval AUC ± z·SE, clipped
	// to [0, 1] (pROC's ci.auc(method = "delong")).
	Lo, Hi               float64
	Confidence           float64
	Positives, Negatives int
	// Small is set when either class has fewer than SmallSampleN members.
	Small bool
}

// DeLong returns the AUROC of scores for positive with DeLong, DeLong and
// Clarke-Pearson's (1988) standard error, the square root of
// var(V10)/nPos + var(V01)/nNeg with the structural components (placement
// values) V10 of the positives and V01 of the negatives. Each class needs at
// least two members.
func DeLong(scores []float64, positive []bool, confidence float64) (DeLongResult, error) {
	if err := checkConfidence(confidence); err != nil {
		return DeLongResult{}, fmt.Errorf("stats: delong: %w", err)
	}
	r, err := rankScores(scores, positive)
	if err != nil {
		return DeLongResult{}, fmt.Errorf("stats: delong: %w", err)
	}
	if r.nPos < 2 || r.nNeg < 2 {
		return DeLongResult{}, fmt.Errorf("stats: delong: %d positives and %d negatives, need 2 each: %w", r.nPos, r.nNeg, ErrTooFew)
	}
	// Placement of a positive at level l: the fraction of negatives below it
	// plus half of those tied. Of a negative: the fraction of positives above
	// it plus half of those tied.
	levels := len(r.pos)
	v10 := make([]float64, levels)
	v01 := make([]float64, levels)
	negBelow := 0
	for l := range levels {
		v10[l] = (float64(negBelow) + 0.5*float64(r.neg[l])) / float64(r.nNeg)
		negBelow += r.neg[l]
	}
	posAbove := 0
	for l := levels - 1; l >= 0; l-- {
		v01[l] = (float64(posAbove) + 0.5*float64(r.pos[l])) / float64(r.nPos)
		posAbove += r.pos[l]
	}
	x := make([]float64, r.nPos)
	for i, l := range r.posLevel {
		x[i] = v10[l]
	}
	y := make([]float64, r.nNeg)
	for i, l := range r.negLevel {
		y[i] = v01[l]
	}
	auc := aucFromCounts(r.pos, r.neg, r.nPos, r.nNeg)
	se := math.Sqrt(Variance(x)/float64(r.nPos) + Variance(y)/float64(r.nNeg))
	z := zCritical(confidence)
	return DeLongResult{
		AUC: auc, SE: se,
		Lo: max(0, auc-z*se), Hi: min(1, auc+z*se),
		Confidence: confidence,
		Positives:  r.nPos, Negatives: r.nNeg,
		Small: r.nPos < SmallSampleN || r.nNeg < SmallSampleN,
	}, nil
}

// DefaultResamples is a customary number of bootstrap resamples for a 95%
// percentile interval.
const DefaultResamples = 2000

// BootstrapResult is the AUROC with a percentile bootstrap interval.
type BootstrapResult struct {
	AUC float64
	// Lo and Hi are the (1 − Confidence)/2 and (1 + Confidence)/2 quantiles
	// (R's type 7) of the resampled AUROCs.
	Lo, Hi               float64
	Confidence           float64
	Resamples            int
	Seed                 uint64
	Positives, Negatives int
	// Small is set when either class has fewer than SmallSampleN members.
	Small bool
}

// bootstrapStream is the second PCG seed word, fixed so that a result is a
// function of the caller's seed alone.
const bootstrapStream = 0x64656570636f6e66 // "deepconf"

// BootstrapAUROC returns the AUROC of scores for positive with a percentile
// bootstrap interval from the given number of resamples. The bootstrap is
// stratified by class: each resample draws nPos positives from the positives
// and nNeg negatives from the negatives, with replacement, so both classes
// are always present and their sizes fixed as in the data (pROC's default,
// stratified = TRUE). Random numbers come from a math/rand/v2 PCG source
// seeded with seed: the result is deterministic given the inputs and seed.
func BootstrapAUROC(scores []float64, positive []bool, confidence float64, resamples int, seed uint64) (BootstrapResult, error) {
	if err := checkConfidence(confidence); err != nil {
		return BootstrapResult{}, fmt.Errorf("stats: bootstrap auroc: %w", err)
	}
	if resamples < 1 {
		return BootstrapResult{}, fmt.Errorf("stats: bootstrap auroc: %d resamples: %w", resamples, ErrTooFew)
	}
	r, err := rankScores(scores, positive)
	if err != nil {
		return BootstrapResult{}, fmt.Errorf("stats: bootstrap auroc: %w", err)
	}
	rng := rand.New(rand.NewPCG(seed, bootstrapStream))
	pos := make([]int, len(r.pos))
	neg := make([]int, len(r.neg))
	aucs := make([]float64, resamples)
	for b := range aucs {
		clear(pos)
		clear(neg)
		for range r.nPos {
			pos[r.posLevel[rng.IntN(r.nPos)]]++
		}
		for range r.nNeg {
			neg[r.negLevel[rng.IntN(r.nNeg)]]++
		}
		aucs[b] = aucFromCounts(pos, neg, r.nPos, r.nNeg)
	}
	slices.Sort(aucs)
	alpha := 1 - confidence
	return BootstrapResult{
		AUC:        aucFromCounts(r.pos, r.neg, r.nPos, r.nNeg),
		Lo:         Quantile(aucs, alpha/2),
		Hi:         Quantile(aucs, 1-alpha/2),
		Confidence: confidence,
		Resamples:  resamples,
		Seed:       seed,
		Positives:  r.nPos, Negatives: r.nNeg,
		Small: r.nPos < SmallSampleN || r.nNeg < SmallSampleN,
	}, nil
}
