package stats

import (
	"fmt"
	"math"
)

// Fisher's exact test is written here: no maintained Go library offers it
// (gonum has the hypergeometric building blocks only through Lgamma), and the
// two-sided p-value must follow R's fisher.test convention exactly.

// fisherRelErr is R's tolerance for "no more probable than the observed
// table" in the two-sided p-value of fisher.test.
const fisherRelErr = 1 + 1e-7

// FisherResult is Fisher's exact test on the 2×2 table
//
//	        outcome+  outcome−
//	group 1    A         B
//	group 2    C         D
//
// conditioning on both margins, under which A is hypergeometric.
type FisherResult struct {
	A, B, C, D int
	// PGreater is P(X ≥ A): the alternative that the odds ratio is above 1
	// (outcome+ more likely in group 1), R's alternative = "greater".
	PGreater float64
	// PLess is P(X ≤ A): the alternative that the odds ratio is below 1.
	PLess float64
	// PTwoSided sums the probabilities of the tables no more probable than
	// the observed one (R's rule, relative tolerance 1e-7).
	PTwoSided float64
	// OddsRatio is the sample odds ratio A·D / (B·C): +Inf when B·C = 0 <
	// A·D, and NaN when both products are 0.
	OddsRatio float64
	// ConditionalOddsRatio is the conditional maximum-likelihood estimate
	// (the "odds ratio" R's fisher.test reports): 0 or +Inf when A is at the
	// lower or upper end of its support, NaN when the support is a single
	// table.
	ConditionalOddsRatio float64
	// MinExpected is the smallest expected cell count under independence
	// (0 for an empty table).
	MinExpected float64
	// Small is set when MinExpected < MinExpectedCount: the exact test is
	// still valid, but has little power and a chi-square test would not be.
	Small bool
}

// hypergeom is the conditional distribution of the top-left cell of a 2×2
// table with fixed margins.
type hypergeom struct {
	lo   int       // smallest possible top-left count
	logd []float64 // log dhyper(lo + i)
	prob []float64 // dhyper(lo + i), normalised to sum to 1
}

// lchoose returns log(n choose k).
func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n) + 1)
	b, _ := math.Lgamma(float64(k) + 1)
	c, _ := math.Lgamma(float64(n-k) + 1)
	return a - b - c
}

// newHypergeom returns the distribution of the top-left count given the
// first row total r1 and column totals c1, c2.
func newHypergeom(r1, c1, c2 int) hypergeom {
	lo := max(0, r1-c2)
	hi := min(r1, c1)
	h := hypergeom{lo: lo, logd: make([]float64, hi-lo+1), prob: make([]float64, hi-lo+1)}
	total := lchoose(c1+c2, r1)
	maxLog := math.Inf(-1)
	for i := range h.logd {
		x := lo + i
		h.logd[i] = lchoose(c1, x) + lchoose(c2, r1-x) - total
		maxLog = max(maxLog, h.logd[i])
	}
	// Normalise as R's dnhyper does, removing the rounding error of Lgamma.
	sum := 0.0
	for i, l := range h.logd {
		h.prob[i] = math.Exp(l - maxLog)
		sum += h.prob[i]
	}
	for i := range h.prob {
		h.prob[i] /= sum
	}
	return h
}

// mean returns the mean of the top-left count under the noncentral
// hypergeometric distribution with log odds ratio theta.
func (h hypergeom) mean(theta float64) float64 {
	maxW := math.Inf(-1)
	for i, l := range h.logd {
		maxW = max(maxW, l+theta*float64(h.lo+i))
	}
	num, den := 0.0, 0.0
	for i, l := range h.logd {
		w := math.Exp(l + theta*float64(h.lo+i) - maxW)
		num += w * float64(h.lo+i)
		den += w
	}
	return num / den
}

// conditionalMLE returns the odds ratio whose noncentral hypergeometric mean
// equals x, the conditional maximum-likelihood estimate.
func (h hypergeom) conditionalMLE(x int) float64 {
	hi := h.lo + len(h.logd) - 1
	switch {
	case h.lo == hi:
		return math.NaN()
	case x == h.lo:
		return 0
	case x == hi:
		return math.Inf(1)
	}
	target := float64(x)
	// The mean increases strictly with theta; bracket the root, then bisect
	// on the log odds ratio until the bracket stops shrinking.
	// The mean tends to the ends of the support as theta goes to ∓Inf, and
	// log-probability gaps are far below 2^60, so the doubling stops.
	a, b := -1.0, 1.0
	for i := 0; i < 60 && h.mean(a) > target; i++ {
		a *= 2
	}
	for i := 0; i < 60 && h.mean(b) < target; i++ {
		b *= 2
	}
	for range 200 {
		m := a + (b-a)/2
		if m <= a || m >= b {
			break
		}
		if h.mean(m) < target {
			a = m
		} else {
			b = m
		}
	}
	return math.Exp(a + (b-a)/2)
}

// FisherExact runs Fisher's exact test on the 2×2 table [[a, b], [c, d]]
// (rows are groups, columns outcomes). Counts must be non-negative.
func FisherExact(a, b, c, d int) (FisherResult, error) {
	if a < 0 || b < 0 || c < 0 || d < 0 {
		return FisherResult{}, fmt.Errorf("stats: fisher: table [[%d %d] [%d %d]]: %w", a, b, c, d, ErrInvalidCount)
	}
	r := FisherResult{A: a, B: b, C: c, D: d}
	r1, r2, c1, c2 := a+b, c+d, a+c, b+d
	n := r1 + r2

	h := newHypergeom(r1, c1, c2)
	obs := a - h.lo
	pObs := h.prob[obs]
	for i, p := range h.prob {
		if i <= obs {
			r.PLess += p
		}
		if i >= obs {
			r.PGreater += p
		}
		if p <= pObs*fisherRelErr {
			r.PTwoSided += p
		}
	}
	r.PLess = min(r.PLess, 1)
	r.PGreater = min(r.PGreater, 1)
	r.PTwoSided = min(r.PTwoSided, 1)

	ad, bc := float64(a)*float64(d), float64(b)*float64(c)
	switch {
	case bc > 0:
		r.OddsRatio = ad / bc
	case ad > 0:
		r.OddsRatio = math.Inf(1)
	default:
		r.OddsRatio = math.NaN()
	}
	r.ConditionalOddsRatio = h.conditionalMLE(a)

	if n > 0 {
		nf := float64(n)
		r.MinExpected = math.Inf(1)
		for _, row := range []int{r1, r2} {
			for _, col := range []int{c1, c2} {
				r.MinExpected = min(r.MinExpected, float64(row)*float64(col)/nf)
			}
		}
	}
	r.Small = r.MinExpected < MinExpectedCount
	return r, nil
}
