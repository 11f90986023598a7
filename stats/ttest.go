package stats

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Mean returns the arithmetic mean of x, or NaN when x is empty.
func Mean(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	return stat.Mean(x, nil)
}

// Variance returns the unbiased sample variance of x (divisor n − 1), or NaN
// when x has fewer than two values.
func Variance(x []float64) float64 {
	if len(x) < 2 {
		return math.NaN()
	}
	return stat.Variance(x, nil)
}

// checkFinite reports the first NaN or infinite value of x.
func checkFinite(name string, x []float64) error {
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s[%d] = %v: %w", name, i, v, ErrNotFinite)
		}
	}
	return nil
}

// TTestResult is Welch's two-sample t-test of the means of X and Y.
type TTestResult struct {
	N1, N2       int
	Mean1, Mean2 float64
	// Var1 and Var2 are the sample variances (divisor n − 1).
	Var1, Var2 float64
	// Diff is Mean1 − Mean2 and SE its standard error
	// sqrt(Var1/N1 + Var2/N2).
	Diff, SE float64
	// T is Diff/SE and DF the Welch–Satterthwaite degrees of freedom.
	T, DF float64
	// PTwoSided tests Mean1 ≠ Mean2, PGreater Mean1 > Mean2 and PLess
	// Mean1 < Mean2 (R's t.test alternatives for x − y).
	PTwoSided, PGreater, PLess float64
	// Lo and Hi bound the two-sided confidence interval of Diff.
	Lo, Hi     float64
	Confidence float64
	// Small is set when either sample has fewer than SmallSampleN values.
	Small bool
}

// WelchTTest runs Welch's unequal-variance t-test of x against y, as R's
// t.test(x, y) (var.equal = FALSE). Each sample needs at least two values,
// all finite, and at least one sample must vary (otherwise the statistic is
// 0/0 or an infinite t with undefined degrees of freedom, and R's t.test also
// refuses: "data are essentially constant").
func WelchTTest(x, y []float64, confidence float64) (TTestResult, error) {
	if err := checkConfidence(confidence); err != nil {
		return TTestResult{}, fmt.Errorf("stats: welch: %w", err)
	}
	if len(x) < 2 || len(y) < 2 {
		return TTestResult{}, fmt.Errorf("stats: welch: sample sizes %d and %d, need 2 each: %w", len(x), len(y), ErrTooFew)
	}
	if err := checkFinite("x", x); err != nil {
		return TTestResult{}, fmt.Errorf("stats: welch: %w", err)
	}
	if err := checkFinite("y", y); err != nil {
		return TTestResult{}, fmt.Errorf("stats: welch: %w", err)
	}
	r := TTestResult{N1: len(x), N2: len(y), Confidence: confidence}
	r.Mean1, r.Var1 = stat.MeanVariance(x, nil)
	r.Mean2, r.Var2 = stat.MeanVariance(y, nil)
	n1, n2 := float64(r.N1), float64(r.N2)
	s1, s2 := r.Var1/n1, r.Var2/n2
	se2 := s1 + s2
	// R's test: stderr < 10 * .Machine$double.eps * max(|mx|, |my|).
	r.SE = math.Sqrt(se2)
	if r.SE <= 10*0x1p-52*max(math.Abs(r.Mean1), math.Abs(r.Mean2)) {
		return TTestResult{}, fmt.Errorf("stats: welch: both samples are constant: %w", ErrZeroVariance)
	}
	r.Diff = r.Mean1 - r.Mean2
	r.T = r.Diff / r.SE
	r.DF = se2 * se2 / (s1*s1/(n1-1) + s2*s2/(n2-1))

	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: r.DF}
	r.PGreater = t.Survival(r.T)
	r.PLess = t.CDF(r.T)
	// 2·P(T > |t|) computed from the upper tail, without cancellation.
	r.PTwoSided = min(1, 2*t.Survival(math.Abs(r.T)))
	q := t.Quantile(1 - (1-confidence)/2)
	r.Lo, r.Hi = r.Diff-q*r.SE, r.Diff+q*r.SE
	r.Small = r.N1 < SmallSampleN || r.N2 < SmallSampleN
	return r, nil
}
