package confidence

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

func mustWindow(t testing.TB, w int) *Window {
	t.Helper()
	g, err := NewWindow(w)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestWindowHand(t *testing.T) {
	// W = 3. Hand-computed means of the last ≤ 3 values.
	g := mustWindow(t, 3)
	steps := []struct {
		push   float64
		mean   float64
		full   bool
		lowest float64 // 0 while never full
		end    int
	}{
		{3, 3, false, 0, 0},
		{1, 2, false, 0, 0},
		{2, 2, true, 2, 3},       // [3 1 2]
		{6, 3, true, 2, 3},       // [1 2 6]
		{0, 8.0 / 3, true, 2, 3}, // [2 6 0]
		{0, 2, true, 2, 3},       // [6 0 0]: equal to the lowest, not lower
		{0, 0, true, 0, 7},       // [0 0 0]
	}
	for i, s := range steps {
		mean, full := g.Push(s.push)
		if mean != s.mean || full != s.full {
			t.Fatalf("push %d (%v): mean %v full %v, want %v %v", i, s.push, mean, full, s.mean, s.full)
		}
		if g.Mean() != mean || g.Full() != full {
			t.Fatalf("push %d: Mean/Full disagree with Push", i)
		}
		low, end, ok := g.Lowest()
		if ok != (i >= 2) || low != s.lowest || end != s.end {
			t.Fatalf("push %d: Lowest = %v, %d, %v; want %v, %d", i, low, end, ok, s.lowest, s.end)
		}
	}
	if g.Len() != 3 || g.Size() != 3 || g.Pushed() != 7 {
		t.Errorf("Len %d Size %d Pushed %d", g.Len(), g.Size(), g.Pushed())
	}
	g.Reset()
	if _, _, ok := g.Lowest(); ok || g.Len() != 0 || g.Mean() != 0 || g.Pushed() != 0 || g.Size() != 3 {
		t.Errorf("after Reset: Len %d Mean %v Pushed %d Size %d", g.Len(), g.Mean(), g.Pushed(), g.Size())
	}
}

func TestWindowBelow(t *testing.T) {
	tests := []struct {
		name   string
		pushes []float64
		s      float64
		want   bool
	}{
		{"not full never stops", []float64{1}, 17, false},
		{"full and below", []float64{10, 12}, 17, true},
		{"full and equal is not below", []float64{16, 18}, 17, false},
		{"full and above", []float64{20, 20}, 17, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustWindow(t, 2)
			for _, c := range tt.pushes {
				g.Push(c)
			}
			if got := g.Below(tt.s); got != tt.want {
				t.Errorf("Below(%v) = %v, want %v", tt.s, got, tt.want)
			}
		})
	}
}

func TestWindowRejectsNonFinite(t *testing.T) {
	g := mustWindow(t, 2)
	g.Push(4)
	for _, c := range []float64{nan, posInf, negInf} {
		mean, full := g.Push(c)
		if mean != 4 || full {
			t.Errorf("Push(%v) = %v, %v; want 4, false", c, mean, full)
		}
	}
	g.Push(2)
	if g.Mean() != 3 || !g.Full() || g.Rejected() != 3 || g.Pushed() != 2 {
		t.Errorf("Mean %v Full %v Rejected %d Pushed %d", g.Mean(), g.Full(), g.Rejected(), g.Pushed())
	}
}

func TestNewWindowError(t *testing.T) {
	for _, w := range []int{0, -5} {
		if _, err := NewWindow(w); err == nil {
			t.Errorf("NewWindow(%d): no error", w)
		}
	}
}

// exactMean is the mean of the last n pushed values, computed exactly with
// big.Float and rounded once to float64. The test's values have ulps ≥ 2^-140
// and sums < 2^25, so a 256-bit mantissa holds every partial sum exactly.
func exactMean(vals []float64) float64 {
	sum := new(big.Float).SetPrec(256)
	for _, v := range vals {
		sum.Add(sum, new(big.Float).SetPrec(256).SetFloat64(v))
	}
	sum.Quo(sum, new(big.Float).SetPrec(256).SetInt64(int64(len(vals))))
	f, _ := sum.Float64()
	return f
}

func TestWindowDrift(t *testing.T) {
	// 1e6 pushes into W = 2048 of values spread over 13 orders of magnitude
	// (the worst case for a running sum: large values entering and
	// leaving next to tiny ones), compared every 997 pushes with an exact
	// recomputation. Tolerance: 2 ulp of the exact mean (one rounding of
	// the compensated sum, one of the division).
	const (
		pushes = 1_000_000
		w      = 2048
	)
	if testing.Short() {
		t.Skip("long drift test")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	g := mustWindow(t, w)
	hist := make([]float64, 0, pushes)
	var naive float64 // plain running sum, for the log only
	worst, worstNaive := 0.0, 0.0
	for i := range pushes {
		var c float64
		switch rng.IntN(3) {
		case 0:
			c = 8999 * rng.Float64()
		case 1:
			c = 1e-9 * rng.Float64()
		default:
			c = 10 + 12*rng.Float64()
		}
		hist = append(hist, c)
		naive += c
		if len(hist) > w {
			naive -= hist[len(hist)-w-1]
		}
		mean, _ := g.Push(c)
		if i%997 == 0 || i == pushes-1 {
			last := hist[max(0, len(hist)-w):]
			exact := exactMean(last)
			ulp := math.Nextafter(exact, math.Inf(1)) - exact
			err := math.Abs(mean-exact) / ulp
			worst = max(worst, err)
			worstNaive = max(worstNaive, math.Abs(naive/float64(len(last))-exact)/ulp)
			if err > 2 {
				t.Fatalf("push %d: mean %v, exact %v: error %.1f ulp", i, mean, exact, err)
			}
		}
	}
	t.Logf("worst error over %d pushes: %.2f ulp (a plain running sum: %.0f ulp)", pushes, worst, worstNaive)
}

func TestStopIndex(t *testing.T) {
	// W = 2, s = 10. Hand-computed window means: [12 11] 11.5, [11 8]
	// 9.5 < 10 → stop after 3 confidences.
	confs := []float64{12, 11, 8, 20}
	tests := []struct {
		name    string
		w       int
		s       float64
		n       int
		stopped bool
	}{
		{"stops at the first full window below", 2, 10, 3, true},
		{"never below", 2, 9, 4, false},
		{"window longer than trace never stops", 5, 100, 4, false},
		{"first full window already below", 2, 12, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, stopped, err := StopIndex(confs, tt.w, tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.n || stopped != tt.stopped {
				t.Errorf("StopIndex = %d, %v; want %d, %v", n, stopped, tt.n, tt.stopped)
			}
		})
	}
	f32 := []float32{12, 11, 8, 20}
	if n, stopped, err := StopIndex(f32, 2, 10); err != nil || n != 3 || !stopped {
		t.Errorf("float32: %d %v %v", n, stopped, err)
	}
	if _, _, err := StopIndex([]float64{1, nan}, 1, 0); err == nil {
		t.Error("NaN: no error")
	}
	if _, _, err := StopIndex(confs, 0, 0); err == nil {
		t.Error("window 0: no error")
	}
}

func TestNewTrackerErrors(t *testing.T) {
	if _, err := NewTracker(Scorer{}, 10); err == nil {
		t.Error("zero Scorer accepted")
	}
	if _, err := NewTracker(mustScorer(t, 20, TopK), 0); err == nil {
		t.Error("window 0 accepted")
	}
	tr, err := NewTracker(mustScorer(t, 5, Official), 10)
	if err != nil || tr.Scorer().K() != 5 || tr.Window().Size() != 10 {
		t.Errorf("NewTracker: %v", err)
	}
}
