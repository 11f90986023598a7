package stats

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestSilvermanBandwidth(t *testing.T) {
	// Reference values: R 4.2.2, bw.nrd0(x), printed with digits = 17.
	tests := []struct {
		name string
		x    []float64
		want float64
	}{
		// sd = 1.5811, IQR/1.34 = 2/1.34 = 1.4925 is smaller:
		// 0.9 · 1.4925 · 5^−0.2 = 0.97358.
		{"iqr", []float64{1, 2, 3, 4, 5}, 0.97358462285063574},
		{"skewed", []float64{0.12, 0.5, 0.51, 0.55, 0.9, 0.93, 2.4}, 0.18659584107819213},
		// IQR = 0: falls back to sd = √3.2.
		{"zero iqr", []float64{3, 3, 3, 3, 7}, 1.166872749618789},
		// sd = 0: falls back to |x[0]| = 2.
		{"constant", []float64{2, 2, 2}, 1.4449348111684153},
		// all zero: falls back to 1.
		{"zeros", []float64{0, 0}, 0.78349550696651171},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SilvermanBandwidth(tt.x)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "SilvermanBandwidth", got, tt.want, 1e-13)
		})
	}
}

func TestSilvermanBandwidthErrors(t *testing.T) {
	for _, x := range [][]float64{nil, {1}, {1, math.NaN()}, {math.Inf(1), 2}} {
		if _, err := SilvermanBandwidth(x); !errors.Is(err, ErrTooFew) && !errors.Is(err, ErrNotFinite) {
			t.Errorf("SilvermanBandwidth(%v): error %v", x, err)
		}
	}
}

func TestGaussianKDE(t *testing.T) {
	// Reference values: R 4.2.2,
	//   y <- c(0.12, 0.5, 0.51, 0.55, 0.9, 0.93, 2.4); h <- bw.nrd0(y)
	//   sapply(c(0, 0.5, 1, 2.4, 3), function(t) mean(dnorm((t - y)/h))/h)
	y := []float64{0.12, 0.5, 0.51, 0.55, 0.9, 0.93, 2.4}
	h, err := SilvermanBandwidth(y)
	if err != nil {
		t.Fatal(err)
	}
	at := []float64{0, 0.5, 1, 2.4, 3}
	want := []float64{0.2680607211537694989, 0.9956382216764596560, 0.5840690076549193144,
		0.3054288563654647959, 0.0017366852364215177}
	got, err := GaussianKDE(y, h, at)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		near(t, fmt.Sprintf("f(%v)", at[i]), got[i], want[i], 1e-12)
	}

	// A single point with h = 1 is the standard normal density:
	// φ(0) = 1/√(2π), φ(1) = e^(−1/2)/√(2π).
	got, err = GaussianKDE([]float64{0}, 1, []float64{0, 1, -1})
	if err != nil {
		t.Fatal(err)
	}
	phi0 := 1 / math.Sqrt(2*math.Pi)
	for i, w := range []float64{phi0, phi0 * math.Exp(-0.5), phi0 * math.Exp(-0.5)} {
		near(t, fmt.Sprintf("standard normal %d", i), got[i], w, 1e-15)
	}

	// The estimate integrates to 1 (R: integrate(...) = 0.99999999995):
	// trapezoid rule over ±10 bandwidths beyond the data.
	const steps = 20000
	lo, hi := 0.12-10*h, 2.4+10*h
	grid := make([]float64, steps+1)
	for i := range grid {
		grid[i] = lo + (hi-lo)*float64(i)/steps
	}
	f, err := GaussianKDE(y, h, grid)
	if err != nil {
		t.Fatal(err)
	}
	var area float64
	for i := 1; i < len(f); i++ {
		area += (f[i] + f[i-1]) / 2 * (grid[i] - grid[i-1])
	}
	near(t, "integral", area, 1, 1e-6)
}

func TestGaussianKDEErrors(t *testing.T) {
	if _, err := GaussianKDE(nil, 1, []float64{0}); err == nil {
		t.Error("no values: no error")
	}
	for _, h := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := GaussianKDE([]float64{1}, h, []float64{0}); err == nil {
			t.Errorf("bandwidth %v: no error", h)
		}
	}
}
