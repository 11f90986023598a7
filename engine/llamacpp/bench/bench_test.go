package bench

import (
	"context"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/internal/testmodel"
)

// tinyEngine opens the generated tiny model (Q8_0) with two threads and
// three parallel sequences.
func tinyEngine(t *testing.T) *llamacpp.Engine {
	t.Helper()
	model := testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTiny, Quant: testmodel.QuantQ8_0})
	e, err := llamacpp.New(context.Background(), llamacpp.Config{Model: model, Threads: 2, Parallel: 3, ContextSize: 256, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func TestMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("loads llama.cpp")
	}
	e := tinyEngine(t)
	sampling := engine.Sampling{Temperature: 0.6, TopP: 0.95, TopK: 20, MaxTokens: 6, TopLogprobs: 20}
	rep, err := Measure(context.Background(), e, Options{N: []int{1, 3}, Repeat: 2, PromptTokens: 40, Sampling: sampling, Window: 16})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Engine.Name != "llama.cpp" || rep.Engine.Threads != 2 || rep.Engine.Parallel != 3 {
		t.Errorf("engine %+v, want llama.cpp with 2 threads and 3 sequences", rep.Engine)
	}
	// The prompt is the shortest one reaching 40 tokens; the tiny
	// model's byte-level vocabulary makes a word a few tokens long.
	if rep.PromptTokens < 40 || rep.PromptTokens > 60 {
		t.Errorf("prompt of %d tokens, want about 40", rep.PromptTokens)
	}
	if rep.Sampling != sampling || rep.Tokens != 6 || rep.GOMAXPROCS != runtime.GOMAXPROCS(0) {
		t.Errorf("sampling %+v, tokens %d, GOMAXPROCS %d", rep.Sampling, rep.Tokens, rep.GOMAXPROCS)
	}
	if len(rep.Results) != 2 || rep.Results[0].N != 1 || rep.Results[1].N != 3 {
		t.Fatalf("results for n = %v, want 1 and 3", rep.Results)
	}
	cpus := float64(runtime.NumCPU())
	for _, r := range rep.Results {
		if len(r.Runs) != 2 {
			t.Fatalf("n = %d: %d runs, want 2", r.N, len(r.Runs))
		}
		for i, run := range r.Runs {
			// A trace may end early at an end-of-generation token.
			if run.Tokens < int64(r.N) || run.Tokens > int64(6*r.N) {
				t.Errorf("n = %d run %d: %d tokens, want %d..%d", r.N, i, run.Tokens, r.N, 6*r.N)
			}
			if run.PrefillTokens != int64(rep.PromptTokens) {
				t.Errorf("n = %d run %d: %d prefill tokens, want the prompt's %d", r.N, i, run.PrefillTokens, rep.PromptTokens)
			}
			// A step per token after a trace's first, which comes
			// from the prompt's distribution; traces that start late
			// add steps.
			if run.Steps < 1 || run.Steps > int64(5*r.N) {
				t.Errorf("n = %d run %d: %d steps, want 1..%d", r.N, i, run.Steps, 5*r.N)
			}
			if run.TokensPerSecond <= 0 || run.MsPerStep <= 0 || run.DecodeMs <= 0 {
				t.Errorf("n = %d run %d: %+v", r.N, i, run)
			}
			// Linux: CPU accounting from getrusage and /proc/stat.
			// This process and the others together cannot use more
			// cores than the machine has (a tick of slack each for the
			// readings' granularity).
			if run.CPUCores == nil || run.OtherCores == nil {
				t.Fatalf("n = %d run %d: no CPU accounting", r.N, i)
			}
			if *run.CPUCores <= 0 || *run.CPUCores+*run.OtherCores > cpus+cpus*0.01/(run.WallMs/1000) {
				t.Errorf("n = %d run %d: %v cores here, %v others, on %v CPUs", r.N, i, *run.CPUCores, *run.OtherCores, cpus)
			}
			if run.GoShare <= 0 || run.GoShare >= 1 {
				t.Errorf("n = %d run %d: Go share %v, want in (0, 1)", r.N, i, run.GoShare)
			}
			// The TokenFunc computed DeepConf token confidences: with
			// k = 20 top logprobs of a near-uniform 264-token
			// distribution, C is a little below −log(1/264) ≈ 5.6.
			if run.MeanConfidence < 3 || run.MeanConfidence > 8 {
				t.Errorf("n = %d run %d: mean token confidence %v, want about 5.3", r.N, i, run.MeanConfidence)
			}
		}
		found := false
		for _, run := range r.Runs {
			found = found || reflect.DeepEqual(run, r.Median)
		}
		if !found {
			t.Errorf("n = %d: median %+v is not one of the runs", r.N, r.Median)
		}
	}
	var b strings.Builder
	if err := WriteTable(&b, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	header, row := strings.Fields(lines[len(lines)-3]), strings.Fields(lines[len(lines)-1])
	if header[0] != "n" || row[0] != "3" || len(row) != 12 || !strings.HasSuffix(row[6], "%") {
		t.Errorf("table\n%s\nwant a header and a row per n with the Go share in %%", b.String())
	}
}

func TestMeasureErrors(t *testing.T) {
	ok := Options{N: []int{1}, Repeat: 1, PromptTokens: 8, Window: 4, Sampling: engine.Sampling{TopP: 0.95, MaxTokens: 4, TopLogprobs: 20}}
	for name, mod := range map[string]func(*Options){
		"no n":          func(o *Options) { o.N = nil },
		"n 0":           func(o *Options) { o.N = []int{2, 0} },
		"no repeat":     func(o *Options) { o.Repeat = 0 },
		"no prompt":     func(o *Options) { o.PromptTokens = 0 },
		"no window":     func(o *Options) { o.Window = 0 },
		"no tokens":     func(o *Options) { o.Sampling.MaxTokens = 0 },
		"bad sampling":  func(o *Options) { o.Sampling.TopLogprobs = 21 },
		"no top-p":      func(o *Options) { o.Sampling.TopP = 0 },
		"negative temp": func(o *Options) { o.Sampling.Temperature = -1 },
	} {
		o := ok
		o.N = []int{1}
		mod(&o)
		if err := o.check(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := ok.check(); err != nil {
		t.Errorf("valid options: %v", err)
	}
}
