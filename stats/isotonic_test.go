package stats

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// The reference values of this file come from
// testdata/calibration_references.py (scikit-learn 1.2.1).

func TestFitIsotonicReferences(t *testing.T) {
	// R's ?isoreg example isoreg(c(1,0,4,3,3,5,4,2,0)): fitted values
	// 0.5 0.5 3 3 3 3 3 3 3 (by hand: pooling 1,0 and then 4,3,3,5,4,2,0,
	// whose mean is 21/7 = 3); scikit-learn gives the same.
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	y := []float64{1, 0, 4, 3, 3, 5, 4, 2, 0}
	m, err := FitIsotonic(x, y, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.5, 0.5, 3, 3, 3, 3, 3, 3, 3}
	for i, xi := range x {
		near(t, "isoreg", m.Predict(xi), want[i], tolExact)
	}
	// Only the ends of the constant runs are kept (scikit-learn's
	// X_thresholds_ = [1, 2, 3, 9]).
	if len(m.X) != 4 || m.X[0] != 1 || m.X[1] != 2 || m.X[2] != 3 || m.X[3] != 9 {
		t.Errorf("thresholds %v, want [1 2 3 9]", m.X)
	}

	// scikit-learn's IsotonicRegression documentation example:
	// X, y = make_regression(n_samples=10, n_features=1, random_state=41);
	// IsotonicRegression().fit(X, y).predict([.1, .2]) =
	// array([1.8628..., 3.7256...]).
	skX := []float64{-0.9251999652780767, -0.2707123230673205, -1.2262158464418542, -0.9480069877134585, 0.25052781572357197,
		-1.040180216082938, 0.10484805260974006, -0.15367595145793744, 0.7898518103468191, 0.567143660285906}
	skY := []float64{-17.23483473287586, -5.042890535362112, -22.842226819482157, -17.65968911806237, 4.666888955931152,
		-19.376712915470474, 1.95313329724307, -2.862710468216406, 14.713538613999779, 10.564880697858689}
	m, err = FitIsotonic(skX, skY, nil)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "sklearn doc predict(.1)", m.Predict(0.1), 1.8628226739822447, 1e-12)
	near(t, "sklearn doc predict(.2)", m.Predict(0.2), 3.7256453479644884, 1e-12)
	near(t, "sklearn doc printed", m.Predict(0.1), 1.8628, 5e-5)

	// Weights, tied abscissae (pooled to their weighted mean), linear
	// interpolation between thresholds and clipping beyond them:
	// IsotonicRegression(out_of_bounds="clip").fit(x, y, sample_weight=w).
	wx := []float64{3, 1, 2, 2, 4, 4, 5, 6, 7, 8, 8}
	wy := []float64{0.2, 0.9, 0.1, 0.5, 0.4, 0.0, 1.0, 0.3, 0.8, 0.6, 1.0}
	ww := []float64{1, 2, 1, 3, 0.5, 1, 2, 1, 1, 1, 4}
	m, err = FitIsotonic(wx, wy, ww)
	if err != nil {
		t.Fatal(err)
	}
	q := []float64{0, 1, 1.5, 2, 2.25, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8, 9}
	wantQ := []float64{0.44705882352941184, 0.44705882352941184, 0.44705882352941184, 0.44705882352941184, 0.44705882352941184,
		0.44705882352941184, 0.44705882352941184, 0.44705882352941184, 0.6068627450980393, 0.7666666666666666, 0.7666666666666666,
		0.7666666666666666, 0.7833333333333333, 0.8, 0.86, 0.9199999999999999, 0.9199999999999999}
	for i, xi := range q {
		near(t, "weighted predict", m.Predict(xi), wantQ[i], 1e-12)
	}
	wantX := []float64{1, 4, 5, 6, 7, 8}
	if len(m.X) != len(wantX) {
		t.Fatalf("thresholds %v, want %v", m.X, wantX)
	}
	for i := range wantX {
		near(t, "threshold x", m.X[i], wantX[i], 0)
	}
}

// maxMinFit is the isotonic fit by the max–min formula (Barlow et al.
// 1972, Theorem 1.4): f_i = max_{j ≤ i} min_{k ≥ i} Av(j..k), with Av the
// weighted mean of points j to k (distinct, sorted abscissae). O(n³), an
// independent check of PAV.
func maxMinFit(y, w []float64) []float64 {
	n := len(y)
	out := make([]float64, n)
	for i := range n {
		best := math.Inf(-1)
		for j := 0; j <= i; j++ {
			low := math.Inf(1)
			var sw, swy float64
			for k := j; k < n; k++ {
				sw += w[k]
				swy += w[k] * y[k]
				if k >= i {
					low = math.Min(low, swy/sw)
				}
			}
			best = math.Max(best, low)
		}
		out[i] = best
	}
	return out
}

func TestFitIsotonicMaxMin(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for trial := range 200 {
		n := 1 + rng.IntN(25)
		x := make([]float64, n)
		y := make([]float64, n)
		w := make([]float64, n)
		for i := range n {
			x[i] = float64(i)
			y[i] = rng.NormFloat64() + 0.1*float64(i)
			if trial%3 == 0 {
				y[i] = float64(rng.IntN(2)) // binary outcomes as in calibration
			}
			w[i] = 0.1 + rng.Float64()*3
		}
		m, err := FitIsotonic(x, y, w)
		if err != nil {
			t.Fatal(err)
		}
		want := maxMinFit(y, w)
		for i := range n {
			if got := m.Predict(x[i]); math.Abs(got-want[i]) > 1e-12 {
				t.Fatalf("trial %d point %d: PAV %v, max-min %v", trial, i, got, want[i])
			}
			if i > 0 && m.Predict(x[i]) < m.Predict(x[i-1]) {
				t.Fatalf("trial %d: fit decreases at %d", trial, i)
			}
		}
	}
}

func TestFitIsotonicErrors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		x, y, w []float64
		target  error
	}{
		{"length", []float64{1, 2}, []float64{1}, nil, ErrLength},
		{"weights length", []float64{1, 2}, []float64{1, 2}, []float64{1}, ErrLength},
		{"nan x", []float64{nan}, []float64{1}, nil, ErrNotFinite},
		{"inf y", []float64{1}, []float64{math.Inf(1)}, nil, ErrNotFinite},
		{"empty", nil, nil, nil, ErrTooFew},
		{"zero weights", []float64{1, 2}, []float64{0, 1}, []float64{0, 0}, ErrTooFew},
	}
	for _, tt := range tests {
		if _, err := FitIsotonic(tt.x, tt.y, tt.w); !errors.Is(err, tt.target) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.target)
		}
	}
	if _, err := FitIsotonic([]float64{1}, []float64{1}, []float64{-1}); err == nil {
		t.Error("negative weight accepted")
	}
	// A single point: a constant.
	m, err := FitIsotonic([]float64{2}, []float64{0.3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "constant", m.Predict(-5), 0.3, 0)
	near(t, "constant", m.Predict(7), 0.3, 0)
	if !math.IsNaN(m.Predict(nan)) {
		t.Error("Predict(NaN) is not NaN")
	}
}
