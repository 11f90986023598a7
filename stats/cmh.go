package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// The Cochran–Mantel–Haenszel test is written here: no maintained Go library
// offers it; it follows R's mantelhaen.test for 2 × 2 × K tables exactly.

// Table2x2 is one stratum's 2×2 table
//
//	        outcome+  outcome−
//	group 1    A         B
//	group 2    C         D
type Table2x2 struct {
	A, B, C, D int
}

// N returns the table's total.
func (t Table2x2) N() int { return t.A + t.B + t.C + t.D }

// CMHResult is the Cochran–Mantel–Haenszel test of conditional independence
// in K stratified 2×2 tables, with the Mantel–Haenszel common odds ratio.
type CMHResult struct {
	// Strata is the number of tables used (tables with fewer than 2
	// observations carry no information and are left out; R refuses
	// them).
	Strata int
	// Delta is Σ_k (A_k − E[A_k]): positive when outcome+ is more frequent
	// in group 1 than independence within strata predicts.
	Delta float64
	// Statistic is (|Delta| − c)² / Σ_k Var(A_k) with c = 1/2 when the
	// continuity correction is on and |Delta| ≥ 1/2, else 0; χ²(1) under
	// H0.
	Statistic float64
	// PTwoSided is the χ²(1) p-value; PGreater and PLess are the one-sided
	// p-values of the signed root sign(Delta)·√Statistic (R's alternative
	// = "greater" / "less": common odds ratio above / below 1).
	PTwoSided, PGreater, PLess float64
	// OddsRatio is the Mantel–Haenszel estimate Σ A·D/n / Σ B·C/n, with
	// the two-sided interval [Lo, Hi] from the Robins–Breslow–Greenland
	// variance of its logarithm (R's conf.int). OddsRatio is +Inf or NaN
	// when Σ B·C/n = 0.
	OddsRatio, Lo, Hi float64
}

// CochranMantelHaenszel runs the Mantel–Haenszel χ² test on the stratified
// tables, as R's mantelhaen.test(x, correct = correct) on a 2 × 2 × K array
// whose stratum k is [[A, B], [C, D]] (R's x[1,1,k] = A, x[1,2,k] = B,
// x[2,1,k] = C, x[2,2,k] = D). The test is valid when the odds ratio is
// common to the strata and has power against a consistent direction of
// association across them; confidence is the level of the odds-ratio
// interval.
//
// It is an error when a count is negative, when no table has 2 or more
// observations, or when the variance is 0 (every table has a constant
// margin).
func CochranMantelHaenszel(tables []Table2x2, correct bool, confidence float64) (CMHResult, error) {
	if err := checkConfidence(confidence); err != nil {
		return CMHResult{}, err
	}
	var r CMHResult
	var variance, sDiag, sOff float64
	type used struct{ a, b, c, d, n float64 }
	var ts []used
	for k, t := range tables {
		if t.A < 0 || t.B < 0 || t.C < 0 || t.D < 0 {
			return CMHResult{}, fmt.Errorf("stats: cmh: stratum %d: %w: %+v", k, ErrInvalidCount, t)
		}
		if t.N() < 2 {
			continue
		}
		u := used{float64(t.A), float64(t.B), float64(t.C), float64(t.D), float64(t.N())}
		ts = append(ts, u)
		m, n := u.a+u.b, u.a+u.c // row 1 and column 1 totals
		r.Delta += u.a - m*n/u.n
		variance += m * (u.n - m) * n * (u.n - n) / (u.n * u.n * (u.n - 1))
		sDiag += u.a * u.d / u.n
		sOff += u.b * u.c / u.n
	}
	r.Strata = len(ts)
	if r.Strata == 0 {
		return CMHResult{}, fmt.Errorf("stats: cmh: %w: no stratum has 2 or more observations", ErrTooFew)
	}
	if !(variance > 0) {
		return CMHResult{}, fmt.Errorf("stats: cmh: %w: every stratum has a constant margin", ErrZeroVariance)
	}
	yates := 0.0
	if correct && math.Abs(r.Delta) >= 0.5 {
		yates = 0.5
	}
	d := math.Abs(r.Delta) - yates
	r.Statistic = d * d / variance
	r.PTwoSided = distuv.ChiSquared{K: 1}.Survival(r.Statistic)
	z := math.Copysign(math.Sqrt(r.Statistic), r.Delta)
	if r.Delta == 0 {
		z = 0
	}
	r.PGreater = distuv.UnitNormal.Survival(z)
	r.PLess = distuv.UnitNormal.CDF(z)

	r.OddsRatio, r.Lo, r.Hi = math.NaN(), math.NaN(), math.NaN()
	switch {
	case sOff > 0:
		r.OddsRatio = sDiag / sOff
	case sDiag > 0:
		r.OddsRatio = math.Inf(1)
	}
	if sDiag > 0 && sOff > 0 {
		// Robins, Breslow and Greenland (1986) variance of log(OR_MH).
		var p1, p2, p3 float64
		for _, u := range ts {
			n2 := u.n * u.n
			p1 += (u.a + u.d) * u.a * u.d / n2
			p2 += ((u.a+u.d)*u.b*u.c + (u.b+u.c)*u.a*u.d) / n2
			p3 += (u.b + u.c) * u.b * u.c / n2
		}
		sd := math.Sqrt(p1/(2*sDiag*sDiag) + p2/(2*sDiag*sOff) + p3/(2*sOff*sOff))
		zc := zCritical(confidence)
		r.Lo, r.Hi = r.OddsRatio*math.Exp(-zc*sd), r.OddsRatio*math.Exp(zc*sd)
	}
	return r, nil
}
