package runner

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/store"
)

// streamEngine is the test engine of the run loop's memory tests: every
// trace is MaxTokens tokens of a fixed piece, each with TopLogprobs
// log-probabilities derived from the seed, and answers with a refusal.
func streamEngine() *enginetest.Engine {
	return &enginetest.Engine{Name: "stream", PromptLen: 16, Script: func(c enginetest.Call) (enginetest.Trace, error) {
		p := c.Sampling
		tr := enginetest.Trace{Text: "I can't help with that.", Finish: engine.FinishLength, Tokens: make([]enginetest.Token, p.MaxTokens)}
		for j := range tr.Tokens {
			top := make([]float64, p.TopLogprobs)
			for i := range top {
				top[i] = -float64(i+1) - float64((p.Seed+uint64(j))%7)/10
			}
			tr.Tokens[j] = enginetest.Token{ID: int32(j), Text: "x", Logprob: top[0], Top: top}
		}
		return tr, nil
	}}
}

// heapAfterGC returns the live heap.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// runStream runs n instances of 10 complete traces × 256 tokens through the
// real run loop and store, calling probe after every `every` instances.
func runStream(t testing.TB, n, every int, probe func(done int)) {
	dir, err := store.Open(t.TempDir(), record.Run{})
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	pc := controller.Default(controller.PolicyFixed)
	pc.Traces = 10
	ins := make([]benchmark.Instance, n)
	for i := range ins {
		ins[i] = benchmark.Instance{ID: fmt.Sprintf("mem_%d", i), Index: i, Prompt: "p", Label: benchmark.Harmful}
	}
	for start := 0; start < n; start += every {
		end := min(start+every, n)
		if _, err := sampleAll(context.Background(), streamEngine(), refusal.Patterns(), pc, ins[start:end], 8, dir, Progress{}); err != nil {
			t.Fatal(err)
		}
		probe(end)
	}
}

// TestRunMemoryIsFlat checks that the run loop's live heap does not grow with
// the number of instances written.
func TestRunMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	var heaps []uint64
	runStream(t, 600, 200, func(int) { heaps = append(heaps, heapAfterGC()) })
	first, last := heaps[0], heaps[len(heaps)-1]
	// A leak of one instance's records (10 traces × 256 float32 ×2)
	// per instance would add > 8 MB over 400 instances.
	if last > first+2<<20 {
		t.Errorf("live heap grew from %d to %d bytes over 400 instances", first, last)
	}
}

// BenchmarkRunMemory runs a ToxicChat-sized benchmark (5,083 instances × 10
// traces × 256 tokens) through the run loop with a scripted engine and
// reports the live heap after 1,000 instances and at the end.
func BenchmarkRunMemory(b *testing.B) {
	for b.Loop() {
		var at1k, end uint64
		runStream(b, 5083, 1000, func(done int) {
			h := heapAfterGC()
			if done == 1000 {
				at1k = h
			}
			end = h
		})
		b.ReportMetric(float64(at1k)/(1<<20), "MB-heap@1000")
		b.ReportMetric(float64(end)/(1<<20), "MB-heap@5083")
	}
}
