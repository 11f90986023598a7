package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// McNemarResult is McNemar's test for paired binary outcomes, computed from
// the discordant pairs: B pairs are positive on the first measurement and
// negative on the second, C the other way round. (In R's 2×2 layout with the
// first measurement in rows, B = x[1, 2] and C = x[2, 1].)
type McNemarResult struct {
	B, C int
	// ChiSq is (B − C)² / (B + C), with p-value P from χ²(1).
	ChiSq, P float64
	// ChiSqCorrected is (|B − C| − 1)² / (B + C), R's mcnemar.test default
	// (continuity correction, not truncated at zero, exactly as R), with
	// p-value PCorrected.
	ChiSqCorrected, PCorrected float64
	// PExact is the two-sided exact binomial p-value: B given B + C is
	// Binomial(B + C, 1/2) under the null, as R's binom.test(B, B + C).
	PExact float64
	// Small is set when B + C < MinDiscordantPairs: report PExact.
	Small bool
}

// McNemar runs McNemar's test on b and c discordant pairs. With no
// discordant pairs there is no evidence of a difference: both statistics are
// 0 and all p-values 1 (R would report NaN).
func McNemar(b, c int) (McNemarResult, error) {
	if b < 0 || c < 0 {
		return McNemarResult{}, fmt.Errorf("stats: mcnemar: discordant counts %d and %d: %w", b, c, ErrInvalidCount)
	}
	r := McNemarResult{B: b, C: c, P: 1, PCorrected: 1, PExact: 1}
	n := b + c
	r.Small = n < MinDiscordantPairs
	if n == 0 {
		return r, nil
	}
	chi := distuv.ChiSquared{K: 1}
	diff := math.Abs(float64(b - c))
	r.ChiSq = diff * diff / float64(n)
	r.P = chi.Survival(r.ChiSq)
	r.ChiSqCorrected = (diff - 1) * (diff - 1) / float64(n)
	r.PCorrected = chi.Survival(r.ChiSqCorrected)
	// For p = 1/2 the distribution is symmetric, so R's binom.test rule
	// (tables no more probable than the observed one) is twice the smaller
	// tail, capped at 1.
	binom := distuv.Binomial{N: float64(n), P: 0.5}
	r.PExact = min(1, 2*binom.CDF(float64(min(b, c))))
	return r, nil
}

// McNemarPaired runs McNemar's test on paired outcomes first[i], second[i].
func McNemarPaired(first, second []bool) (McNemarResult, error) {
	if len(first) != len(second) {
		return McNemarResult{}, fmt.Errorf("stats: mcnemar: %d and %d outcomes: %w", len(first), len(second), ErrLength)
	}
	b, c := 0, 0
	for i := range first {
		switch {
		case first[i] && !second[i]:
			b++
		case !first[i] && second[i]:
			c++
		}
	}
	return McNemar(b, c)
}
