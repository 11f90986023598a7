package confidence

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestPredictionBoundReferenceValues(t *testing.T) {
	// Reference values from R 4.2.2:
	//   x <- c(...); mean(x) + qt(1 - keep, n - 1) * sd(x) * sqrt(1 + 1/n)
	tests := []struct {
		x    []float64
		keep float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0.9, 0.13611964132426024},
		{[]float64{14.2, 13.1, 15.7, 12.9, 14.8}, 0.9, 12.171993722445617},
		{[]float64{14.2, 13.1, 15.7, 12.9, 14.8}, 0.75, 13.189249578505217},
		{[]float64{10, 12}, 0.9, 5.6692957439941631},
	}
	for _, tc := range tests {
		got, err := PredictionBound(tc.x, tc.keep)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-12*math.Abs(tc.want) {
			t.Errorf("PredictionBound(%v, %v) = %.17g, want %.17g", tc.x, tc.keep, got, tc.want)
		}
	}
	if b, err := PredictionBound([]float64{1, 2}, 1); err != nil || !math.IsInf(b, -1) {
		t.Errorf("keep 1: %v, %v; want -Inf", b, err)
	}
	if b, err := PredictionBound([]float64{3, 3, 3}, 0.9); err != nil || b != 3 {
		t.Errorf("equal values: %v, %v; want 3", b, err)
	}
	for _, bad := range []struct {
		x    []float64
		keep float64
	}{
		{[]float64{1}, 0.9},
		{nil, 0.9},
		{[]float64{1, 2}, 0},
		{[]float64{1, 2}, 1.5},
		{[]float64{1, math.NaN()}, 0.9},
		{[]float64{1, math.Inf(1)}, 0.9},
	} {
		if _, err := PredictionBound(bad.x, bad.keep); err == nil {
			t.Errorf("PredictionBound(%v, %v): no error", bad.x, bad.keep)
		}
	}
}

// TestPredictionBoundIsCalibrated checks the defining property by Monte
// Carlo: with n normal warm-up values, a new draw falls below the bound with
// probability 1 − keep (whatever n), while the numpy linear percentile of
// four values is passed far more often than intended — the miscalibration
// of the paper's threshold with few warm-up traces.
func TestPredictionBoundIsCalibrated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const reps = 40000
	for _, n := range []int{2, 4, 9} {
		for _, keep := range []float64{0.9, 0.5} {
			below, belowPct := 0, 0
			x := make([]float64, n)
			for range reps {
				for i := range x {
					x[i] = 5 + 2*rng.NormFloat64()
				}
				b, err := PredictionBound(x, keep)
				if err != nil {
					t.Fatal(err)
				}
				y := 5 + 2*rng.NormFloat64()
				if y < b {
					below++
				}
				if y < Percentile(x, 100-100*keep) {
					belowPct++
				}
			}
			p := float64(below) / reps
			se := math.Sqrt((1 - keep) * keep / reps)
			if math.Abs(p-(1-keep)) > 4*se {
				t.Errorf("n=%d keep=%v: %.4f below the bound, want %.4f ± %.4f", n, keep, p, 1-keep, 4*se)
			}
			if n == 4 && keep == 0.9 {
				// E F(x(1) + 0.3 (x(2) − x(1))) ≈ 0.25 for normal data.
				if pp := float64(belowPct) / reps; pp < 0.2 {
					t.Errorf("n=4: %.4f below the linear 10th percentile; expected about a quarter", pp)
				}
			}
		}
	}
}

func TestPrefixMeansAndRunningLowest(t *testing.T) {
	confs := []float32{4, 2, 6, 8, 1, 3}
	pm, err := PrefixMeans(confs, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{4, 3, 4, 5}; !equalFloats(pm, want) {
		t.Errorf("PrefixMeans = %v, want %v", pm, want)
	}
	if pm, _ := PrefixMeans(confs, 10); len(pm) != len(confs) {
		t.Errorf("PrefixMeans beyond the trace: %d values", len(pm))
	}
	// w = 3: prefix means 4, 3 while t < 3; windows (4,2,6)=4, (2,6,8)=16/3,
	// (6,8,1)=5, (8,1,3)=4 → running minimum 4, 4, 4, 4.
	rl, err := RunningLowest(confs, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{4, 3, 4, 4, 4, 4}; !equalFloats(rl, want) {
		t.Errorf("RunningLowest = %v, want %v", rl, want)
	}
	// The last value is Summarize's LowestGroup, on random traces too.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		n := 1 + rng.IntN(80)
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(10 + 3*rng.NormFloat64())
		}
		w := 1 + rng.IntN(20)
		rl, err := RunningLowest(x, w)
		if err != nil {
			t.Fatal(err)
		}
		st, err := Summarize(x, StatsOptions{Window: w, Tail: 4, BottomFraction: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		if rl[n-1] != st.LowestGroup {
			t.Fatalf("n=%d w=%d: running lowest %v, LowestGroup %v", n, w, rl[n-1], st.LowestGroup)
		}
		for i := w; i < n; i++ {
			if rl[i] > rl[i-1] {
				t.Fatalf("running lowest increases at %d after the window is full", i)
			}
		}
	}
	if _, err := RunningLowest([]float64{1, math.NaN()}, 2); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := PrefixMeans([]float64{math.Inf(1)}, 2); err == nil {
		t.Error("Inf accepted")
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12 {
			return false
		}
	}
	return true
}
