package stats

import (
	"errors"
	"math"
	"testing"
)

func TestFitPlattReferences(t *testing.T) {
	// testdata/calibration_references.py: Platt's objective with his
	// smoothed targets minimised by scipy's BFGS to gtol 1e-12, starting
	// from scikit-learn 1.2.1's _sigmoid_calibration (which stops at gtol
	// 1e-5 and agrees to about 1e-6). Lin, Lin and Weng's stopping rule is
	// a gradient below 1e-5, so the parameters agree to about 1e-5.
	tests := []struct {
		name  string
		score []float64
		y     []bool
		a, b  float64
	}{
		{"overlapping", []float64{-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2, 2.5},
			[]bool{false, false, true, false, false, true, false, true, true, true}, -0.6640430753254065, 0.1660107623407003},
		{"separable", []float64{1, 2, 3, 4, 5, 6},
			[]bool{false, false, false, true, true, true}, -0.7531012449271917, 2.6358543572450213},
	}
	for _, tt := range tests {
		m, err := FitPlatt(tt.score, tt.y)
		if err != nil {
			t.Fatal(err)
		}
		near(t, tt.name+" A", m.A, tt.a, 2e-5)
		near(t, tt.name+" B", m.B, tt.b, 2e-5)
		// The probabilities agree more closely than the parameters.
		for _, s := range tt.score {
			want := 1 / (1 + math.Exp(tt.a*s+tt.b))
			near(t, tt.name+" P", m.Predict(s), want, 1e-5)
		}
	}
}

func TestPlattPredictExtremes(t *testing.T) {
	m := PlattMap{A: -1, B: 0}
	near(t, "P(0)", m.Predict(0), 0.5, 0)
	near(t, "P(1000)", m.Predict(1000), 1, 0)
	near(t, "P(-1000)", m.Predict(-1000), 0, 1e-300)
	if p := m.Predict(-700); !(p > 0) { // exp(-700) ≈ 1e-304
		t.Errorf("P(-700) = %v, want a positive number", p)
	}
}

func TestFitPlattOneClass(t *testing.T) {
	// With positives only the smoothed target is (N₊ + 1)/(N₊ + 2) = 4/5
	// for every instance; the fit is then that constant.
	m, err := FitPlatt([]float64{1, 2, 3}, []bool{true, true, true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []float64{1, 2, 3} {
		near(t, "one class", m.Predict(s), 0.8, 1e-4)
	}
	if _, err := FitPlatt(nil, nil); !errors.Is(err, ErrTooFew) {
		t.Errorf("empty: %v", err)
	}
	if _, err := FitPlatt([]float64{math.NaN()}, []bool{true}); !errors.Is(err, ErrNotFinite) {
		t.Errorf("NaN: %v", err)
	}
}
