package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// zCritical returns the two-sided standard normal critical value for the
// confidence level, qnorm(1 − (1 − confidence)/2).
func zCritical(confidence float64) float64 {
	return distuv.UnitNormal.Quantile(1 - (1-confidence)/2)
}

// checkConfidence reports whether confidence is a usable level.
func checkConfidence(confidence float64) error {
	if !(confidence > 0 && confidence < 1) { // also rejects NaN
		return fmt.Errorf("%w: got %v", ErrInvalidConfidence, confidence)
	}
	return nil
}

// checkCount validates k successes out of n.
func checkCount(k, n int) error {
	if n < 0 || k < 0 || k > n {
		return fmt.Errorf("%w: %d successes out of %d", ErrInvalidCount, k, n)
	}
	return nil
}

// Wilson returns the Wilson score interval (without continuity correction)
// for successes out of n at the given confidence level, as R's
// prop.test(successes, n, correct = FALSE)$conf.int.
//
// With n = 0 the data say nothing and the interval is [0, 1]. The bounds are
// exactly 0 when successes = 0 and exactly 1 when successes = n. For invalid
// arguments (negative counts, successes > n, confidence outside (0, 1)) both
// bounds are NaN; NewProportion reports the same cases as errors.
func Wilson(successes, n int, confidence float64) (lo, hi float64) {
	if checkCount(successes, n) != nil || checkConfidence(confidence) != nil {
		return math.NaN(), math.NaN()
	}
	if n == 0 {
		return 0, 1
	}
	z := zCritical(confidence)
	nf := float64(n)
	p := float64(successes) / nf
	z2 := z * z
	denom := 1 + z2/nf
	center := (p + z2/(2*nf)) / denom
	half := z / denom * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	lo, hi = center-half, center+half
	if successes == 0 {
		lo = 0
	}
	if successes == n {
		hi = 1
	}
	return max(lo, 0), min(hi, 1)
}

// Proportion is k successes out of n with a Wilson score interval.
type Proportion struct {
	K, N int
	// Rate is K/N, or 0 when N is 0 (check Defined).
	Rate float64
	// Lo and Hi bound the Wilson interval at Confidence; [0, 1] when N is 0.
	Lo, Hi     float64
	Confidence float64
}

// NewProportion returns k out of n with its Wilson interval at the given
// confidence level. It fails for negative counts, k > n or a confidence level
// outside (0, 1); n = 0 is allowed and gives an undefined proportion (see
// Proportion.Defined).
func NewProportion(k, n int, confidence float64) (Proportion, error) {
	if err := checkCount(k, n); err != nil {
		return Proportion{}, fmt.Errorf("stats: proportion: %w", err)
	}
	if err := checkConfidence(confidence); err != nil {
		return Proportion{}, fmt.Errorf("stats: proportion: %w", err)
	}
	p := Proportion{K: k, N: n, Confidence: confidence}
	if n > 0 {
		p.Rate = float64(k) / float64(n)
	}
	p.Lo, p.Hi = Wilson(k, n, confidence)
	return p, nil
}

// Defined reports whether the proportion has at least one observation.
func (p Proportion) Defined() bool { return p.N > 0 }

// Small reports whether the proportion rests on fewer than SmallSampleN
// observations.
func (p Proportion) Small() bool { return p.N < SmallSampleN }

// Difference is the difference P1.Rate − P2.Rate of two independent
// proportions with Newcombe's hybrid score interval.
type Difference struct {
	P1, P2 Proportion
	// Diff is P1.Rate − P2.Rate.
	Diff float64
	// Lo and Hi bound Newcombe's interval at Confidence.
	Lo, Hi     float64
	Confidence float64
	// Small is set when either group has fewer than SmallSampleN observations.
	Small bool
}

// NewcombeDifference returns the difference k1/n1 − k2/n2 of two independent
// proportions with Newcombe's (1998) hybrid score interval (method 10, built
// from the two Wilson intervals without continuity correction). Both groups
// must be non-empty.
func NewcombeDifference(k1, n1, k2, n2 int, confidence float64) (Difference, error) {
	p1, err := NewProportion(k1, n1, confidence)
	if err != nil {
		return Difference{}, fmt.Errorf("stats: newcombe: group 1: %w", err)
	}
	p2, err := NewProportion(k2, n2, confidence)
	if err != nil {
		return Difference{}, fmt.Errorf("stats: newcombe: group 2: %w", err)
	}
	if n1 == 0 || n2 == 0 {
		return Difference{}, fmt.Errorf("stats: newcombe: group sizes %d and %d: %w", n1, n2, ErrTooFew)
	}
	d := p1.Rate - p2.Rate
	lo := d - math.Hypot(p1.Rate-p1.Lo, p2.Hi-p2.Rate)
	hi := d + math.Hypot(p1.Hi-p1.Rate, p2.Rate-p2.Lo)
	return Difference{
		P1: p1, P2: p2,
		Diff: d,
		Lo:   max(lo, -1), Hi: min(hi, 1),
		Confidence: confidence,
		Small:      p1.Small() || p2.Small(),
	}, nil
}
