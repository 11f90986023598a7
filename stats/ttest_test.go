package stats

import (
	"errors"
	"math"
	"testing"
)

// Student's sleep data (Cushny and Peebles 1905), R's datasets::sleep:
// extra hours of sleep under drug 1 and drug 2.
var (
	sleepGroup1 = []float64{0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0}
	sleepGroup2 = []float64{1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4}
)

func TestMeanVariance(t *testing.T) {
	// Exact: means 3/4 and 233/100, variances 5761/1800 and 4009/1000
	// (Python fractions on the decimal data).
	near(t, "mean 1", Mean(sleepGroup1), 0.75, tolExact)
	near(t, "mean 2", Mean(sleepGroup2), 2.33, tolExact)
	near(t, "var 1", Variance(sleepGroup1), 5761.0/1800, tolExact)
	near(t, "var 2", Variance(sleepGroup2), 4.009, tolExact)
	near(t, "var of 2,4,4,4,5,5,7,9", Variance([]float64{2, 4, 4, 4, 5, 5, 7, 9}), 32.0/7, tolExact)
	if !math.IsNaN(Mean(nil)) || !math.IsNaN(Variance([]float64{1})) {
		t.Errorf("Mean(nil) = %v, Variance([1]) = %v, want NaN", Mean(nil), Variance([]float64{1}))
	}
	near(t, "mean of one", Mean([]float64{4}), 4, 0)
}

func TestWelchTTestSleep(t *testing.T) {
	// R 4.2.2, t.test(extra ~ group, data = sleep) (Welch, the default),
	// options(digits = 16); R documents it as
	// t = -1.8608, df = 17.776, p-value = 0.07939, 95% CI -3.3654832 0.2054832.
	r, err := WelchTTest(sleepGroup1, sleepGroup2, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("t %.16g df %.16g p %.16g less %.16g greater %.16g CI [%.15g, %.15g]", r.T, r.DF, r.PTwoSided, r.PLess, r.PGreater, r.Lo, r.Hi)
	// t and df also follow exactly from the rational means and variances:
	// t = -1.8608134674868531015..., df = 17.776473516178490142...
	near(t, "t", r.T, -1.8608134674868531, tolR)
	near(t, "df", r.DF, 17.776473516178490, tolR)
	near(t, "p two-sided", r.PTwoSided, 0.0793941401873582, tolR)
	near(t, "p less", r.PLess, 0.0396970700936791, tolR)
	near(t, "p greater", r.PGreater, 0.960302929906321, tolR)
	near(t, "CI lo", r.Lo, -3.36548323071171, tolR)
	near(t, "CI hi", r.Hi, 0.20548323071171, tolR)
	near(t, "diff", r.Diff, -1.58, tolExact)
	// The rounded values as printed by R.
	near(t, "t (printed)", r.T, -1.8608, 5e-5)
	near(t, "df (printed)", r.DF, 17.776, 5e-4)
	near(t, "p (printed)", r.PTwoSided, 0.07939, 5e-6)
	if !r.Small || r.N1 != 10 || r.N2 != 10 {
		t.Errorf("N1 %d N2 %d Small %v, want 10 10 true", r.N1, r.N2, r.Small)
	}

	// Swapping the samples negates t and exchanges the one-sided p-values.
	s, _ := WelchTTest(sleepGroup2, sleepGroup1, 0.95)
	near(t, "swapped t", s.T, -r.T, 1e-14)
	near(t, "swapped greater", s.PGreater, r.PLess, 1e-14)
	near(t, "swapped two-sided", s.PTwoSided, r.PTwoSided, 1e-14)
}

func TestWelchTTestOneConstantSample(t *testing.T) {
	// R 4.2.2: t.test(c(1, 1, 1), c(1, 2, 3)): t = -sqrt(3), df = 2,
	// p = 0.2254033307585166, CI [-3.48413771175033, 1.48413771175033].
	r, err := WelchTTest([]float64{1, 1, 1}, []float64{1, 2, 3}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "t", r.T, -math.Sqrt(3), tolR)
	near(t, "df", r.DF, 2, tolR)
	near(t, "p", r.PTwoSided, 0.2254033307585166, tolR)
	near(t, "CI lo", r.Lo, -3.4841377117503298, tolR)
	near(t, "CI hi", r.Hi, 1.4841377117503296, tolR)
}

func TestWelchTTestErrors(t *testing.T) {
	tests := []struct {
		name string
		x, y []float64
		conf float64
		want error
	}{
		{"one value", []float64{1}, []float64{1, 2}, 0.95, ErrTooFew},
		{"empty", nil, []float64{1, 2}, 0.95, ErrTooFew},
		{"both constant", []float64{2, 2}, []float64{3, 3, 3}, 0.95, ErrZeroVariance},
		{"both constant zero", []float64{0, 0}, []float64{0, 0}, 0.95, ErrZeroVariance},
		{"NaN", []float64{1, math.NaN()}, []float64{1, 2}, 0.95, ErrNotFinite},
		{"Inf", []float64{1, 2}, []float64{1, math.Inf(1)}, 0.95, ErrNotFinite},
		{"confidence", []float64{1, 2}, []float64{1, 2}, 1.5, ErrInvalidConfidence},
	}
	for _, tt := range tests {
		if _, err := WelchTTest(tt.x, tt.y, tt.conf); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
}
