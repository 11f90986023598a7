package stats

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// PowerTwoProportions returns the power of the one-sided two-sample test of
// proportions at level alpha to detect p1 > p2 with n1 and n2 observations,
// by the normal approximation without continuity correction (Fleiss, Levin
// and Paik, Statistical Methods for Rates and Proportions, 3rd ed., 2003,
// §4.2):
//
//	Φ( (p1 − p2 − z_{1−α} √(p̄ q̄ (1/n1 + 1/n2))) / √(p1 q1/n1 + p2 q2/n2) )
//
// with p̄ = (n1 p1 + n2 p2)/(n1 + n2) and q = 1 − p. With n1 = n2 it is R's
// power.prop.test(n, p1, p2, sig.level = alpha, alternative = "one.sided").
// Fisher's exact test, being conservative, has a little less power. It
// returns NaN when a group is empty or a probability is outside [0, 1].
func PowerTwoProportions(p1, p2 float64, n1, n2 int, alpha float64) float64 {
	if n1 < 1 || n2 < 1 || !(p1 >= 0 && p1 <= 1) || !(p2 >= 0 && p2 <= 1) || !(alpha > 0 && alpha < 1) {
		return math.NaN()
	}
	f1, f2 := float64(n1), float64(n2)
	pbar := (f1*p1 + f2*p2) / (f1 + f2)
	null := math.Sqrt(pbar * (1 - pbar) * (1/f1 + 1/f2))
	alt := math.Sqrt(p1*(1-p1)/f1 + p2*(1-p2)/f2)
	if alt == 0 {
		if p1 > p2 {
			return 1
		}
		return 0
	}
	za := distuv.UnitNormal.Quantile(1 - alpha)
	return distuv.UnitNormal.CDF((p1 - p2 - za*null) / alt)
}
