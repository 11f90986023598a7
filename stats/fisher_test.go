package stats

import (
	"errors"
	"math"
	"testing"
)

func TestFisherExactReference(t *testing.T) {
	tests := []struct {
		name       string
		a, b, c, d int
		// p-values: exact rationals where given as fractions (enumeration of
		// the hypergeometric support with Python's fractions module), all
		// matching R 4.2.2 fisher.test(...)$p.value to the printed digits.
		greater, less, two float64
		// Conditional MLE of the odds ratio: the exact root (see each case)
		// and R's estimate, which R finds with uniroot at its default
		// tolerance of about 1e-4, so it is compared to tolUniroot only.
		mle, rMLE float64
		// Sample odds ratio a·d/(b·c).
		or float64
		// Whether an expected count is below 5.
		small bool
	}{
		{
			// Agresti (2002, p. 91) Fisher's tea tasting; R documentation of
			// fisher.test: TeaTasting <- matrix(c(3, 1, 1, 3), nrow = 2),
			// fisher.test(TeaTasting, alternative = "greater") => p = 0.2429.
			// P(X ≥ 3) = (16 + 1)/70; two-sided = 34/70; less = 69/70.
			// MLE: root of ψ⁴ − 36ψ² − 32ψ − 3 = 0 (mean of the noncentral
			// hypergeometric with weights 1, 16, 36, 16, 1 equal to 3),
			// solved by Newton's method to 40 digits.
			name: "tea tasting", a: 3, b: 1, c: 1, d: 3,
			greater: 17.0 / 70, less: 69.0 / 70, two: 17.0 / 35,
			mle: 6.408319658199674, rMLE: 6.40830886700579, or: 9, small: true,
		},
		{
			// Fisher (1962, 1970) criminal convictions of like-sex twins; R
			// documentation of fisher.test: Convictions <- matrix(c(2, 10, 15,
			// 3), nrow = 2), fisher.test(Convictions, alternative = "less")
			// p = 0.0004652; two-sided p = 0.0005367 (R 4.2.2 output).
			// less = 619/1330665, two-sided = 3571/6653325,
			// greater = 6653222/6653325. MLE by 200-step bisection in
			// 50-digit decimal arithmetic.
			name: "convictions", a: 2, b: 15, c: 10, d: 3,
			greater: 6653222.0 / 6653325, less: 619.0 / 1330665, two: 3571.0 / 6653325,
			mle: 0.04693663904967996, rMLE: 0.0469366088276989, or: 6.0 / 150,
		},
	}
	const tolUniroot = 1e-4
	for _, tt := range tests {
		r, err := FisherExact(tt.a, tt.b, tt.c, tt.d)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: greater %.15g less %.15g two-sided %.15g MLE %.15g", tt.name, r.PGreater, r.PLess, r.PTwoSided, r.ConditionalOddsRatio)
		near(t, tt.name+" greater", r.PGreater, tt.greater, tolExact)
		near(t, tt.name+" less", r.PLess, tt.less, tolExact)
		near(t, tt.name+" two-sided", r.PTwoSided, tt.two, tolExact)
		near(t, tt.name+" MLE exact", r.ConditionalOddsRatio, tt.mle, 1e-9*tt.mle)
		near(t, tt.name+" MLE vs R", r.ConditionalOddsRatio, tt.rMLE, tolUniroot*tt.rMLE)
		near(t, tt.name+" sample OR", r.OddsRatio, tt.or, tolExact)
		if r.Small != tt.small {
			t.Errorf("%s: Small = %v, want %v (min expected %v)", tt.name, r.Small, tt.small, r.MinExpected)
		}
	}
	// The documented rounded values.
	tea, _ := FisherExact(3, 1, 1, 3)
	near(t, "tea greater (R docs)", tea.PGreater, 0.2429, tol4dp)
	conv, _ := FisherExact(2, 15, 10, 3)
	near(t, "convictions less (R output 0.0004652)", conv.PLess, 0.0004652, 5e-8)
	// Expected counts 6.8, 10.2, 5.2, 7.8: the smallest is 13·12/30.
	near(t, "convictions expected min", conv.MinExpected, 13.0*12/30, tolExact)
}

func TestFisherExactLargeTable(t *testing.T) {
	// A table of the size deepconf analyses (thousands of instances).
	// R 4.2.2: big <- matrix(c(31, 503, 703, 3835), nrow = 2);
	// fisher.test(big, alternative = ...)$p.value with options(digits = 16).
	r, err := FisherExact(31, 703, 503, 3835)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("two %.16g greater %.16g less %.16g MLE %.16g", r.PTwoSided, r.PGreater, r.PLess, r.ConditionalOddsRatio)
	near(t, "two-sided", r.PTwoSided, 4.889816998449253e-11, 1e-9*4.889816998449253e-11)
	near(t, "less", r.PLess, 2.842824684044946e-11, 1e-9*2.842824684044946e-11)
	near(t, "greater", r.PGreater, 0.9999999999906377, tolR)
	// Exact MLE: 120-step bisection on the log odds ratio in 60-digit
	// decimal arithmetic (Python, exact binomial coefficients).
	near(t, "MLE exact", r.ConditionalOddsRatio, 0.3362569258823779, 1e-9)
	near(t, "MLE vs R (uniroot)", r.ConditionalOddsRatio, 0.3362474496420604, 1e-4)
	near(t, "sample OR", r.OddsRatio, 31.0*3835/(703*503), tolExact)
	if r.Small {
		t.Error("large table flagged small")
	}
}

func TestFisherExactProperties(t *testing.T) {
	tables := [][4]int{{3, 1, 1, 3}, {2, 15, 10, 3}, {0, 5, 5, 0}, {7, 0, 2, 9}, {1, 1, 1, 1}, {12, 30, 4, 50}}
	for _, tb := range tables {
		r, err := FisherExact(tb[0], tb[1], tb[2], tb[3])
		if err != nil {
			t.Fatal(err)
		}
		// Swapping the columns turns "greater" into "less".
		s, _ := FisherExact(tb[1], tb[0], tb[3], tb[2])
		near(t, "column swap less/greater", s.PLess, r.PGreater, 1e-14)
		near(t, "column swap two-sided", s.PTwoSided, r.PTwoSided, 1e-14)
		// Transposing the table leaves every p-value unchanged.
		tr, _ := FisherExact(tb[0], tb[2], tb[1], tb[3])
		near(t, "transpose greater", tr.PGreater, r.PGreater, 1e-14)
		near(t, "transpose two-sided", tr.PTwoSided, r.PTwoSided, 1e-14)
		// The one-sided tails overlap in the observed table's probability.
		// The hypergeometric is unimodal, so the two-sided set contains the
		// tail on the observed side, hence at least the smaller tail.
		if r.PLess+r.PGreater < 1-1e-12 {
			t.Errorf("%v: less %v + greater %v < 1", tb, r.PLess, r.PGreater)
		}
		if small := min(r.PLess, r.PGreater); r.PTwoSided < small-1e-15 || r.PTwoSided > 1 {
			t.Errorf("%v: two-sided %v outside [%v, 1]", tb, r.PTwoSided, small)
		}
	}
	// Counts at the ends of the support: the MLE is 0 or +Inf, and the
	// sample odds ratio +Inf or 0.
	r, _ := FisherExact(5, 0, 0, 5)
	if !math.IsInf(r.ConditionalOddsRatio, 1) || !math.IsInf(r.OddsRatio, 1) {
		t.Errorf("[[5 0] [0 5]]: MLE %v OR %v, want +Inf", r.ConditionalOddsRatio, r.OddsRatio)
	}
	near(t, "[[5 0] [0 5]] greater = 1/252", r.PGreater, 1.0/252, tolExact)
	near(t, "[[5 0] [0 5]] two-sided = 2/252", r.PTwoSided, 2.0/252, tolExact)
	r, _ = FisherExact(0, 5, 5, 0)
	if r.ConditionalOddsRatio != 0 || r.OddsRatio != 0 {
		t.Errorf("[[0 5] [5 0]]: MLE %v OR %v, want 0", r.ConditionalOddsRatio, r.OddsRatio)
	}
	// An empty table: one possible table, every p-value 1, no estimate.
	r, err := FisherExact(0, 0, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.PTwoSided != 1 || r.PLess != 1 || r.PGreater != 1 || !math.IsNaN(r.ConditionalOddsRatio) || !math.IsNaN(r.OddsRatio) || !r.Small {
		t.Errorf("empty table: %+v", r)
	}
	if _, err := FisherExact(1, -1, 0, 0); !errors.Is(err, ErrInvalidCount) {
		t.Errorf("negative count: err = %v, want ErrInvalidCount", err)
	}
}
