package pycompat

import (
	"math"
	"math/rand/v2"
	"testing"
)

// seqSum is the naive left-to-right sum, used to show that the vectors below
// tell pairwise and compensated summation apart from it.
func seqSum(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s
}

func repeat(v float64, n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = v
	}
	return x
}

func TestNumpySum(t *testing.T) {
	mixed200 := make([]float64, 200)
	for i := range mixed200 {
		mixed200[i] = math.Mod(float64(i)*0.37, 1.7) - 0.3
	}
	mixed := func(n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = float64((i*7919)%1000)/37.0 - 13.3
		}
		return x
	}
	range9 := make([]float64, 9)
	for i := range range9 {
		range9[i] = 0.1 * float64(i+1)
	}
	// Reference values: NumPy 1.24.2 (Debian python3-numpy), float(np.sum(np.array(x)))
	// and float(np.mean(...)), printed with repr; the Python expressions that
	// build the inputs are given per case.
	tests := []struct {
		name     string
		x        []float64
		sum      float64
		mean     float64
		seqDiffs bool // the naive sum gives a different result
	}{
		{"empty", nil, 0, math.NaN(), false},
		{"single", []float64{-2.5}, -2.5, -2.5, false},
		{"[0.1]*10", repeat(0.1, 10), 1.0, 0.1, true},
		{"[0.1*i for i in range(1,10)]", range9, 4.5, 0.5, true},
		{"[1/3]*300 (recursive split)", repeat(1.0/3, 300), 100.0, 0.3333333333333333, true},
		{"[(i*0.37)%1.7-0.3 for i in range(200)]", mixed200, 106.90000000000009, 0.5345000000000004, true},
		{"[((i*7919)%1000)/37.0-13.3 for i in range(1000)]", mixed(1000), 199.99999999999932, 0.19999999999999932, true},
		{"[((i*7919)%1000)/37.0-13.3 for i in range(5000)]", mixed(5000), 999.9999999999965, 0.1999999999999993, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NumpySum(tt.x); got != tt.sum {
				t.Errorf("NumpySum = %v, want %v", got, tt.sum)
			}
			got := NumpyMean(tt.x)
			if math.IsNaN(tt.mean) {
				if !math.IsNaN(got) {
					t.Errorf("NumpyMean = %v, want NaN", got)
				}
			} else if got != tt.mean {
				t.Errorf("NumpyMean = %v, want %v", got, tt.mean)
			}
			if s := seqSum(tt.x); (s != tt.sum) != tt.seqDiffs {
				t.Errorf("naive sum %v vs numpy %v: differs=%v, want %v", s, tt.sum, s != tt.sum, tt.seqDiffs)
			}
		})
	}
}

func TestPySum(t *testing.T) {
	// Hand-computed with Neumaier's algorithm as in CPython ≥ 3.12
	// builtin_sum_impl; the [0.1]*10 case is the example of the Python 3.12
	// sum() documentation change ("sum([0.1]*10) == 1.0").
	tests := []struct {
		name string
		x    []float64
		want float64
	}{
		{"empty", nil, 0},
		{"single", []float64{2.5}, 2.5},
		{"negative zero becomes zero (0 + -0.0)", []float64{math.Copysign(0, -1)}, 0},
		// s=1e16; +1: t=1e16, c=1; -1e16: t=0, c+=(1e16-0)-1e16=0; result 0+1.
		{"cancellation", []float64{1e16, 1, -1e16}, 1},
		{"[0.1]*10", repeat(0.1, 10), 1.0},
		{"infinite sum keeps inf", []float64{math.Inf(1), 1}, math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PySum(tt.x)
			if got != tt.want || math.Signbit(got) != math.Signbit(tt.want) {
				t.Errorf("PySum = %v, want %v", got, tt.want)
			}
		})
	}
	if seqSum([]float64{1e16, 1, -1e16}) == 1 {
		t.Error("naive sum unexpectedly exact: the cancellation case does not test compensation")
	}
}

func TestRound(t *testing.T) {
	// Reference: CPython 3.11.2 round(x, 3), printed with repr. The naive
	// math.Round(x*1000)/1000 gets 0.0005 and 1.0005 wrong.
	tests := []struct {
		x, want float64
	}{
		{0, 0},
		{1.0005, 1.0},     // 1.0005 is 1.000499999... in binary
		{2.0005, 2.001},   // 2.0005 is 2.000500000...08 in binary
		{0.0005, 0.001},   // 0.000500000000000000010408...
		{0.0625, 0.062},   // exact tie: half to even
		{0.1875, 0.188},   // exact tie: half to even
		{0.3125, 0.312},   // exact tie: half to even
		{17.0625, 17.062}, // exact tie
		{1.2345, 1.234},
		{5.0015, 5.002},
		{-0.0004, math.Copysign(0, -1)},
		{123456.78951, 123456.79},
		{1e300, 1e300},
		{math.Inf(1), math.Inf(1)},
	}
	for _, tt := range tests {
		got := Round(tt.x)
		if got != tt.want || math.Signbit(got) != math.Signbit(tt.want) {
			t.Errorf("Round(%v) = %v, want %v", tt.x, got, tt.want)
		}
	}
	if !math.IsNaN(Round(math.NaN())) {
		t.Error("Round(NaN) is not NaN")
	}
}

func TestRoundFastPathAgrees(t *testing.T) {
	// The fast path must agree with the decimal-formatting path on every
	// input: random magnitudes, and values at and next to 3-decimal ties.
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(x float64) {
		if a, b := Round(x), roundSlow(x); a != b || math.Signbit(a) != math.Signbit(b) {
			t.Fatalf("Round(%v) = %v, decimal path %v", x, a, b)
		}
	}
	for range 50_000 {
		check((rng.Float64() - 0.3) * math.Pow(10, float64(rng.IntN(12)-4)))
		tie := float64(rng.IntN(40_000_000)-1_000_000)/1000 + 0.0005
		check(tie)
		check(math.Nextafter(tie, 0))
		check(math.Nextafter(tie, 1e9))
	}
}

func TestRoundAllocs(t *testing.T) {
	x := 16.0625
	if n := testing.AllocsPerRun(100, func() { x = Round(x + 1e-3) }); n != 0 {
		t.Errorf("Round allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() { x = roundSlow(x + 1e-3) }); n != 0 {
		t.Errorf("roundSlow allocates %v times per call", n)
	}
}
