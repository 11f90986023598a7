package confidence

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestPercentile(t *testing.T) {
	// Expected values are hand-computed with r = (n−1)·p/100 on the sorted
	// values (the working is given where it is not obvious) and agree with
	// numpy.percentile (NumPy 1.24.2, default method "linear"), whose
	// outputs (repr) are the literals below.
	three := []float64{4, 1, 2} // sorted 1 2 4
	sixteen := []float64{9, 3, 16, 1, 12, 5, 14, 7, 2, 11, 6, 15, 4, 13, 8, 10}
	ties := []float64{1, 2, 1, 1} // sorted 1 1 1 2
	real16 := []float64{17.25, 16.5, 18.125, 15.75, 19.0625, 16.875, 17.3125, 18.5,
		15.125, 16.0, 17.75, 18.875, 16.25, 17.0, 19.5, 15.5}
	type pv struct{ p, want float64 }
	tests := []struct {
		name string
		x    []float64
		pvs  []pv
	}{
		{"n=1", []float64{5.5}, []pv{{0, 5.5}, {10, 5.5}, {20, 5.5}, {90, 5.5}, {100, 5.5}}},
		{"n=3 unsorted", three, []pv{
			{0, 1},
			{10, 1.2},     // r=0.2: 1 + 1·0.2
			{20, 1.4},     // r=0.4
			{25, 1.5},     // r=0.5: g ≥ 0.5 → 2 − 1·0.5
			{50, 2},       // r=1
			{90, 3.6},     // r=1.8: 4 − 2·(1−0.8)
			{100, 4},      // r=2: maximum
			{33.3, 1.666}, // r=0.666
		}},
		{"n=16 unsorted 1..16", sixteen, []pv{
			{0, 1},
			{10, 2.5},  // r=1.5: halfway between the 2nd and 3rd lowest
			{20, 4},    // r=3.0000000000000004: 4 + 4.4e-16 rounds to 4
			{25, 4.75}, // r=3.75
			{50, 8.5},  // r=7.5
			{90, 14.5}, // r=13.5: halfway between the 3rd and 2nd highest (P8)
			{100, 16},
			{33.3, 5.994999999999999}, // r=4.995: 6 − 1·0.005 (inexact)
		}},
		{"ties", ties, []pv{
			{0, 1}, {10, 1}, {20, 1}, {50, 1},
			{90, 1.7000000000000002}, // r=2.7: 2 − 1·(1−0.7) in floating point
			{100, 2},
		}},
		{"n=16 real values", real16, []pv{
			{0, 15.125}, {10, 15.625}, {20, 16}, {25, 16.1875}, {50, 17.125},
			{90, 18.96875}, {100, 19.5}, {33.3, 16.49875},
		}},
		// NumPy's _lerp uses b − (b−a)·(1−g) for g ≥ 0.5; the naive
		// a + (b−a)·g gives 1.1467122399477532 here.
		{"lerp branch", []float64{0.9176994910066061, 1.172158100941214}, []pv{{90, 1.1467122399477534}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := slices.Clone(tt.x)
			for _, c := range tt.pvs {
				if got := Percentile(tt.x, c.p); got != c.want {
					t.Errorf("Percentile(%v) = %v, want %v", c.p, got, c.want)
				}
			}
			if !slices.Equal(tt.x, orig) {
				t.Errorf("input modified: %v", tt.x)
			}
		})
	}
}

func TestPercentileInvalid(t *testing.T) {
	tests := []struct {
		name string
		x    []float64
		p    float64
	}{
		{"empty", nil, 50},
		{"p < 0", []float64{1}, -1},
		{"p > 100", []float64{1}, 100.5},
		{"p NaN", []float64{1}, nan},
		{"NaN in x", []float64{1, nan, 3}, 0},
	}
	for _, tt := range tests {
		if got := Percentile(tt.x, tt.p); !math.IsNaN(got) {
			t.Errorf("%s: Percentile = %v, want NaN", tt.name, got)
		}
	}
}

func TestStopThreshold(t *testing.T) {
	sixteen := []float64{9, 3, 16, 1, 12, 5, 14, 7, 2, 11, 6, 15, 4, 13, 8, 10}
	tests := []struct {
		name string
		keep float64
		want float64
	}{
		// η = 0.1 (DeepConf-low): 100 − 10 = 90th percentile.
		{"low", PaperKeepLow, 14.5},
		// η = 0.9 (DeepConf-high): 100 − 90 = 10th percentile, exactly
		// 10 (100·(1−0.9) would be 9.999999999999998).
		{"high", PaperKeepHigh, 2.5},
		{"keep all", 1, 1},
	}
	for _, tt := range tests {
		got, err := StopThreshold(sixteen, tt.keep)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("%s: StopThreshold = %v, want %v", tt.name, got, tt.want)
		}
	}
	for _, bad := range []struct {
		x    []float64
		keep float64
		want string
	}{
		{sixteen, 0, "keep fraction 0"},
		{sixteen, 1.1, "keep fraction 1.1"},
		{nil, 0.1, "no warm-up"},
		{[]float64{1, negInf}, 0.1, "warm-up confidence 1 is -Inf"},
	} {
		if _, err := StopThreshold(bad.x, bad.keep); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("StopThreshold(%v, %v): error %v, want %q", bad.x, bad.keep, err, bad.want)
		}
	}
}
