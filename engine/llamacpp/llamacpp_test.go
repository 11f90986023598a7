package llamacpp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/testmodel"
)

// Test models are quantized to Q8_0: llama.cpp's CPU kernels for quantized
// weights compute every row of a batch independently of the others, which is
// what makes traces reproducible under continuous batching (F16 weights go
// through a kernel whose rounding depends on the batch size).
func tinyQ8(t *testing.T) string {
	return testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTiny, Quant: testmodel.QuantQ8_0})
}

func vocabQ8(t *testing.T) string {
	return testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTinyQwen3Vocab, Quant: testmodel.QuantQ8_0})
}

func newTestEngine(t *testing.T, model string, cfg Config) *Engine {
	t.Helper()
	cfg.Model = model
	if cfg.Threads == 0 {
		cfg.Threads = 1 // llama.cpp's spinning thread barrier crawls when test binaries share the cores
	}
	cfg.Log = io.Discard
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// recorded is one trace as the TokenFunc saw it.
type recorded struct {
	ids    []int32
	lps    []float64
	tops   [][]float64
	result engine.Result
}

func (r *recorded) equal(o *recorded) bool {
	if !slices.Equal(r.ids, o.ids) || !slices.Equal(r.lps, o.lps) || len(r.tops) != len(o.tops) {
		return false
	}
	for i := range r.tops {
		if !slices.Equal(r.tops[i], o.tops[i]) {
			return false
		}
	}
	return r.result == o.result
}

// sampleAll samples one trace per seed concurrently on one session. stopAt
// maps a trace index to the token count after which its TokenFunc stops it.
func sampleAll(t *testing.T, s engine.Session, p engine.Sampling, seeds []uint64, stopAt map[int]int) []*recorded {
	t.Helper()
	out := make([]*recorded, len(seeds))
	errs := make([]error, len(seeds))
	var wg sync.WaitGroup
	for i, seed := range seeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &recorded{}
			q := p
			q.Seed = seed
			res, err := s.Sample(context.Background(), q, func(tok *engine.Token) bool {
				if tok.Index != len(r.ids) {
					errs[i] = fmt.Errorf("token index %d, want %d", tok.Index, len(r.ids))
				}
				r.ids = append(r.ids, tok.ID)
				r.lps = append(r.lps, tok.Logprob)
				r.tops = append(r.tops, slices.Clone(tok.TopLogprobs))
				n, ok := stopAt[i]
				return !ok || len(r.ids) < n
			})
			r.result = res
			out[i] = r
			if errs[i] == nil {
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("trace %d: %v", i, err)
		}
	}
	return out
}

func open(t *testing.T, e engine.Engine, user string) engine.Session {
	t.Helper()
	s, err := e.Open(context.Background(), engine.Prompt{User: user})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var sampling = engine.Sampling{Temperature: 0.8, TopP: 0.95, TopK: 20, MaxTokens: 24, TopLogprobs: 20}

func TestQwen3ChatPromptTokenIDs(t *testing.T) {
	e := newTestEngine(t, vocabQ8(t), Config{})
	// Qwen3's tokenization of the chat prompt with thinking off, as
	// transformers' AutoTokenizer for Qwen/Qwen3-0.6B gives it
	// (INFERENCE.md §2.5 for the first 17 ids; 151667 <think>, 271 "\n\n",
	// 151668 </think>).
	want := []int32{151644, 872, 198, 3838, 374, 220, 16, 22, 9, 17, 18, 30, 151645, 198, 151644, 77091, 198,
		151667, 271, 151668, 271}
	text, err := e.RenderPrompt(engine.Prompt{User: "What is 17*23?"})
	if err != nil {
		t.Fatal(err)
	}
	if info := e.Info(); info.ChatTemplate != "qwen3" || info.ReasoningDelimiters != "<think>,</think>" {
		t.Errorf("Info: chat template %q, reasoning %q", info.ChatTemplate, info.ReasoningDelimiters)
	}
	got := e.Tokenize(text)
	if !slices.Equal(got, want) {
		t.Fatalf("tokens\n got %v\nwant %v", got, want)
	}
	s := open(t, e, "What is 17*23?")
	if s.PromptTokens() != len(want) {
		t.Errorf("PromptTokens = %d, want %d", s.PromptTokens(), len(want))
	}
}

// TestSeqCopyGivesIdenticalLogits feeds the same (greedy) tokens to traces
// that all start from copies of the prompt's sequence: every step must give
// bit-identical log-probabilities.
func TestSeqCopyGivesIdenticalLogits(t *testing.T) {
	for _, model := range []string{"tiny", "tiny-qwen3vocab"} {
		t.Run(model, func(t *testing.T) {
			path := tinyQ8(t)
			if model == "tiny-qwen3vocab" {
				path = vocabQ8(t)
			}
			e := newTestEngine(t, path, Config{Parallel: 6})
			s := open(t, e, "Tell me a story.")
			greedy := engine.Sampling{Temperature: 0, TopP: 1, MaxTokens: 16, TopLogprobs: 20}
			rs := sampleAll(t, s, greedy, []uint64{1, 2, 3, 4, 5, 6}, nil)
			for i, r := range rs[1:] {
				if !r.equal(rs[0]) {
					t.Fatalf("trace %d differs from trace 0:\n%v\n%v", i+1, r.tops, rs[0].tops)
				}
			}
			if len(rs[0].ids) == 0 {
				t.Fatal("no tokens")
			}
		})
	}
}

func TestFixedSeedsReproduce(t *testing.T) {
	model := tinyQ8(t)
	seeds := []uint64{11, 12, 13, 14}
	var runs [][]*recorded
	for range 2 {
		e := newTestEngine(t, model, Config{Parallel: 4})
		s := open(t, e, "Hello")
		runs = append(runs, sampleAll(t, s, sampling, seeds, nil))
		e.Close()
	}
	for i := range seeds {
		if !runs[0][i].equal(runs[1][i]) {
			t.Errorf("seed %d: runs differ:\n%v\n%v", seeds[i], runs[0][i].ids, runs[1][i].ids)
		}
	}
	if slices.Equal(runs[0][0].ids, runs[0][1].ids) {
		t.Errorf("seeds %d and %d gave the same trace %v", seeds[0], seeds[1], runs[0][0].ids)
	}
}

func TestStoppingOneTraceLeavesOthersUnchanged(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{Parallel: 4})
	s := open(t, e, "Hello")
	p := sampling
	p.MaxTokens = 32
	seeds := []uint64{21, 22, 23, 24}
	all := sampleAll(t, s, p, seeds, nil)
	stopped := sampleAll(t, s, p, seeds, map[int]int{1: 3})
	if got := stopped[1]; len(got.ids) != 3 || got.result.Finish != engine.FinishCancelled || got.result.Tokens != 3 {
		t.Fatalf("stopped trace: %d tokens, result %+v; want 3 tokens, cancelled", len(got.ids), got.result)
	}
	for _, i := range []int{0, 2, 3} {
		if !all[i].equal(stopped[i]) {
			t.Errorf("trace %d changed when trace 1 was stopped:\n%v\n%v", i, all[i].ids, stopped[i].ids)
		}
	}
}

func TestTopLogprobsAreALogDistribution(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{})
	s := open(t, e, "Hi")
	r := sampleAll(t, s, sampling, []uint64{5}, nil)[0]
	for i, top := range r.tops {
		if len(top) != 20 {
			t.Fatalf("token %d: %d top logprobs, want 20", i, len(top))
		}
		if !slices.IsSortedFunc(top, func(a, b float64) int { return -cmpFloat(a, b) }) {
			t.Errorf("token %d: top logprobs not descending: %v", i, top)
		}
		mass := 0.0
		for _, lp := range top {
			if lp > 0 || math.IsNaN(lp) {
				t.Fatalf("token %d: logprob %v", i, lp)
			}
			mass += math.Exp(lp)
		}
		if mass > 1+1e-9 {
			t.Errorf("token %d: top-20 mass %v > 1", i, mass)
		}
		if r.lps[i] > top[0]+1e-12 {
			t.Errorf("token %d: sampled logprob %v above the top logprob %v", i, r.lps[i], top[0])
		}
	}
}

// TestPitfallP4RawDistribution: the top-k log-probabilities (and the
// sampled token's) are those of the raw distribution, before temperature,
// top-k and top-p (DEEPCONF.md P4), so confidences do not change with the
// sampling parameters. The first token of every trace comes from the same
// prompt logits: its top-20 must be identical under any sampling.
func TestPitfallP4RawDistribution(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{})
	s := open(t, e, "Hi")
	var first []float64
	for _, p := range []engine.Sampling{
		{Temperature: 0.2, TopP: 0.5, TopK: 5, MaxTokens: 2, TopLogprobs: 20},
		{Temperature: 1.5, TopP: 1, MaxTokens: 2, TopLogprobs: 20},
		{Temperature: 0, TopP: 1, MaxTokens: 2, TopLogprobs: 20},
	} {
		r := sampleAll(t, s, p, []uint64{9}, nil)[0]
		if len(r.tops) == 0 {
			t.Fatalf("sampling %+v: no tokens", p)
		}
		if first == nil {
			first = r.tops[0]
			continue
		}
		if !slices.Equal(r.tops[0], first) {
			t.Errorf("sampling %+v: first token's top logprobs %v, want the raw ones %v", p, r.tops[0], first)
		}
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestContextOverflowIsAnError(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{ContextSize: 64})
	s := open(t, e, "Hi")
	p := sampling
	p.MaxTokens = 64
	_, err := s.Sample(context.Background(), p, func(*engine.Token) bool { return true })
	if !errors.Is(err, engine.ErrContextOverflow) {
		t.Fatalf("Sample with prompt+max tokens > context: err = %v, want ErrContextOverflow", err)
	}
	long := make([]byte, 200)
	for i := range long {
		long[i] = 'a' + byte(i%26)
	}
	if _, err := e.Open(context.Background(), engine.Prompt{User: string(long)}); !errors.Is(err, engine.ErrContextOverflow) {
		t.Fatalf("Open with a prompt longer than the context: err = %v, want ErrContextOverflow", err)
	}
	// The engine still works.
	p.MaxTokens = 8
	if _, err := s.Sample(context.Background(), p, func(*engine.Token) bool { return true }); err != nil {
		t.Fatal(err)
	}
}

func TestCancelAndQueue(t *testing.T) {
	// Parallel 2 with 6 traces: four wait in the queue. Cancelling the
	// context ends running and queued traces alike.
	e := newTestEngine(t, tinyQ8(t), Config{Parallel: 2})
	s := open(t, e, "Hi")
	ctx, cancel := context.WithCancel(context.Background())
	p := sampling
	p.MaxTokens = 1500 // long enough to be cancelled mid-trace
	var wg sync.WaitGroup
	var mu sync.Mutex
	var results []engine.Result
	started := make(chan struct{}, 64)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := p
			q.Seed = uint64(i)
			res, err := s.Sample(ctx, q, func(*engine.Token) bool {
				select {
				case started <- struct{}{}:
				default:
				}
				return true
			})
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			results = append(results, res)
			mu.Unlock()
		}()
	}
	select {
	case <-started:
	case <-time.After(time.Minute):
		t.Fatal("no trace started")
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("traces did not end after cancel")
	}
	for _, r := range results {
		if r.Finish != engine.FinishCancelled && r.Finish != engine.FinishStop {
			t.Errorf("finish %q, want cancelled (or stop)", r.Finish)
		}
	}
}

func TestManyPromptsConcurrently(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{Parallel: 6, Prompts: 3})
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := e.Open(context.Background(), engine.Prompt{User: fmt.Sprintf("prompt number %d", i)})
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			for _, r := range sampleAll(t, s, sampling, []uint64{1, 2, 3}, nil) {
				if r.result.Tokens != len(r.ids) || r.result.Tokens == 0 {
					t.Errorf("prompt %d: result %+v with %d tokens seen", i, r.result, len(r.ids))
				}
			}
		}()
	}
	wg.Wait()
	if st := e.Stats(); st.Tokens == 0 || st.Steps == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFinishLengthAndText(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{})
	s := open(t, e, "Hi")
	p := sampling
	p.MaxTokens = 5
	var pieces string
	res, err := s.Sample(context.Background(), p, func(tok *engine.Token) bool {
		pieces += tok.Text
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != pieces {
		t.Errorf("result text %q, concatenated pieces %q", res.Text, pieces)
	}
	if res.Finish == engine.FinishLength && res.Tokens != 5 {
		t.Errorf("finish length with %d tokens, want 5", res.Tokens)
	}
	if res.Finish != engine.FinishLength && res.Finish != engine.FinishStop {
		t.Errorf("finish %q", res.Finish)
	}
}

// BenchmarkDecodeStep measures whole decode steps of the engine with 8
// parallel traces on the tiny model with Qwen3's vocabulary: llama.cpp's
// decode is cheap there, so the Go side (fused pass over 151,936 logits per
// trace, sampling, callbacks, bookkeeping) is most of a step. One iteration
// samples 8 traces of 16 tokens; the metrics are per step.
func BenchmarkDecodeStep(b *testing.B) {
	model := testmodel.Cached(b, testmodel.Options{Shape: testmodel.ShapeTinyQwen3Vocab, Quant: testmodel.QuantQ8_0})
	e, err := New(context.Background(), Config{Model: model, Threads: 2, Parallel: 8, ContextSize: 256, Log: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	s, err := e.Open(context.Background(), engine.Prompt{User: "Tell me a story."})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	p := sampling
	p.MaxTokens = 16
	st0 := e.Stats()
	for b.Loop() {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				q := p
				q.Seed = uint64(i)
				if _, err := s.Sample(context.Background(), q, func(*engine.Token) bool { return true }); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
	}
	st := e.Stats()
	steps := float64(st.Steps - st0.Steps)
	goTime, decode := st.GoTime-st0.GoTime, st.DecodeTime-st0.DecodeTime
	b.ReportMetric(float64(goTime.Microseconds())/steps, "go-µs/step")
	b.ReportMetric(float64(decode.Microseconds())/steps, "decode-µs/step")
	b.ReportMetric(float64(st.Tokens-st0.Tokens)/float64(b.N), "tokens/op")
}
