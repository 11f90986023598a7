package confidence

import (
	"math/rand/v2"
	"testing"
)

// benchPositions returns n positions with 20 descending top log-probabilities
// and a sampled token outside the top-20 in one position out of eight.
func benchPositions(n int) []Position {
	rng := rand.New(rand.NewPCG(3, 4))
	ps := make([]Position, n)
	for i := range ps {
		top := make([]float64, PaperK)
		ids := make([]int32, PaperK)
		lp := 0.0
		for j := range top {
			lp -= rng.ExpFloat64() * 2
			top[j] = lp
			ids[j] = int32(rng.IntN(150000))
		}
		p := Position{Logprob: top[0], ID: ids[0], Top: top, TopIDs: ids}
		if i%8 == 0 {
			p.Logprob, p.ID = lp-1, -7
		}
		ps[i] = p
	}
	return ps
}

func benchmarkTracker(b *testing.B, v Variant) {
	ps := benchPositions(256)
	tr, err := NewTracker(mustScorer(b, PaperK, v), PaperWindow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	stops := 0
	i := 0
	cpu0, ok := processCPU()
	for b.Loop() {
		tr.Observe(ps[i&255])
		if tr.Window().Below(PaperFixedThreshold) {
			stops++
		}
		i++
	}
	// CPU time per token, less sensitive than ns/op to other processes
	// competing for the cores.
	if cpu1, ok1 := processCPU(); ok && ok1 && b.N > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N), "cpu-ns/op")
	}
	_ = stops
}

// BenchmarkTrackerObserve measures the per-token cost of online tracking
// with k = 20 and W = 2048: token confidence, window push, accounting and
// the stop test. One op is one token.
func BenchmarkTrackerObserve(b *testing.B) { benchmarkTracker(b, TopK) }

// BenchmarkTrackerObserveOfficial is the same with the Official variant
// (NumPy summation order and rounding to 3 decimals).
func BenchmarkTrackerObserveOfficial(b *testing.B) { benchmarkTracker(b, Official) }

func BenchmarkWindowPush(b *testing.B) {
	g := mustWindow(b, PaperWindow)
	b.ReportAllocs()
	c := 0.0
	for b.Loop() {
		g.Push(c)
		c += 0.25
		if c > 30 {
			c = 0
		}
	}
}

func TestTrackerObserveDoesNotAllocate(t *testing.T) {
	ps := benchPositions(64)
	for _, v := range []Variant{TopK, Official} {
		tr, err := NewTracker(mustScorer(t, PaperK, v), 16)
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		if n := testing.AllocsPerRun(200, func() { tr.Observe(ps[i%64]); i++ }); n != 0 {
			t.Errorf("%v: Observe allocates %v times per token", v, n)
		}
	}
}
