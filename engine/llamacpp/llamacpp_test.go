package llamacpp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// Most tests use the tiny model quantized to Q8_0, the default weight type;
// TestTraceTokensIndependentOfBatch also checks F16.
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
	// transformers' AutoTokenizer for Qwen/Qwen3-0.6B gives it (the
	// first 17 ids; then 151667 <think>, 271 "\n\n", 151668 </think>).
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
// top-k and top-p (docs/method.md, pitfall P4), so confidences do not change with the
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

// TestTraceTokensIndependentOfBatch: a trace's tokens, log-probabilities and
// top-k depend only on its prompt, its sampling parameters and its seed, not
// on which other traces and prompts share its decode steps nor on the number
// of threads. Each trace is sampled alone on one thread, then again on two
// threads in a crowd: other traces of the same prompt that stop at various
// lengths (holes in the batch, a lone trace at the end), traces started
// while it runs, and a second prompt prefilled in chunks beside it. The
// prompt is long (about 270 tokens), so that the attention spans several
// hundred KV cells, where llama.cpp's flash attention made rows depend on
// the batch and the threads. Weights: Q8_0, and F16, whose matrix products
// round differently for a single row.
func TestTraceTokensIndependentOfBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("samples long traces")
	}
	for _, q := range []testmodel.Quant{testmodel.QuantQ8_0, testmodel.QuantF16} {
		t.Run(string(q), func(t *testing.T) {
			model := testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTiny, Quant: q})
			p := sampling
			p.MaxTokens = 200
			targets := []uint64{31, 32, 33}
			prompt := strings.Repeat("Tell me a long story. ", 11)
			cfg := Config{Parallel: 8, Prompts: 2, ContextSize: 1024, BatchSize: 48}

			cfg.Threads = 1
			start := time.Now()
			e := newTestEngine(t, model, cfg)
			s := open(t, e, prompt)
			ref := map[uint64]*recorded{}
			for _, seed := range targets {
				ref[seed] = sampleAll(t, s, p, []uint64{seed}, nil)[0]
			}
			e.Close()
			t.Logf("references sampled in %v", time.Since(start))
			if long := slices.MaxFunc(slices.Collect(maps.Values(ref)), func(a, b *recorded) int { return len(a.ids) - len(b.ids) }); s.PromptTokens()+len(long.ids) < 400 {
				t.Fatalf("the longest reference trace ends at position %d; the test needs one beyond 400", s.PromptTokens()+len(long.ids))
			}

			cfg.Threads = 2
			e = newTestEngine(t, model, cfg)
			s = open(t, e, prompt)
			start = time.Now()
			got := crowd(t, e, s, p, targets)
			t.Logf("crowd sampled in %v, %+v", time.Since(start), e.Stats())
			for _, seed := range targets {
				if !got[seed].equal(ref[seed]) {
					r, g := ref[seed], got[seed]
					i := 0
					for i < min(len(r.ids), len(g.ids)) && r.ids[i] == g.ids[i] && r.lps[i] == g.lps[i] {
						i++
					}
					t.Errorf("seed %d: in a crowd on 2 threads the trace differs from the trace alone on 1 thread from token %d of %d/%d", seed, i, len(g.ids), len(r.ids))
				}
			}
		})
	}
}

// crowd samples the traces of seeds targets on s among other work (see
// TestTraceTokensIndependentOfBatch) and returns them by seed. Each trace is
// started by a token of an earlier one, so that the engine gives them
// sequences in that order: 101, 102, the first target, 103 and 104 take
// sequences 1 to 5, and when 102 and 103 stop, the first target is alone
// between two holes.
func crowd(t *testing.T, e *Engine, s engine.Session, p engine.Sampling, targets []uint64) map[uint64]*recorded {
	t.Helper()
	var (
		mu   sync.Mutex
		out  = map[uint64]*recorded{}
		wg   sync.WaitGroup
		errs = make(chan error, 64)
	)
	// sample runs one trace, stopping it after stop tokens (0: never). It
	// calls then[n] once the trace has n tokens, or when it ends with
	// fewer.
	var sample func(seed uint64, stop int, then map[int]func())
	sample = func(seed uint64, stop int, then map[int]func()) {
		wg.Go(func() {
			r := &recorded{}
			fire := func(n int) {
				for k, f := range then {
					if k <= n {
						f()
						delete(then, k)
					}
				}
			}
			defer func() { fire(math.MaxInt) }()
			q := p
			q.Seed = seed
			res, err := s.Sample(context.Background(), q, func(tok *engine.Token) bool {
				r.ids = append(r.ids, tok.ID)
				r.lps = append(r.lps, tok.Logprob)
				r.tops = append(r.tops, slices.Clone(tok.TopLogprobs))
				fire(len(r.ids))
				return stop == 0 || len(r.ids) < stop
			})
			if err != nil {
				errs <- fmt.Errorf("seed %d: %w", seed, err)
			}
			r.result = res
			mu.Lock()
			out[seed] = r
			mu.Unlock()
		})
	}
	second := func() {
		// A second prompt, prefilled in several chunks beside the
		// traces, with traces of its own.
		wg.Go(func() {
			sb, err := e.Open(context.Background(), engine.Prompt{User: strings.Repeat("a second prompt ", 12)})
			if err != nil {
				errs <- err
				return
			}
			var inner sync.WaitGroup
			for i, seed := range []uint64{201, 202} {
				inner.Go(func() {
					q := p
					q.Seed, q.MaxTokens = seed, 60*(i+1)
					if _, err := sb.Sample(context.Background(), q, func(*engine.Token) bool { return true }); err != nil {
						errs <- err
					}
				})
			}
			inner.Wait()
			sb.Close()
		})
	}
	sample(101, 0, map[int]func(){1: func() {
		sample(102, 10, map[int]func(){1: func() {
			sample(targets[0], 0, map[int]func(){
				1: func() {
					sample(103, 10, map[int]func(){1: func() { sample(104, 150, nil) }})
				},
				30: func() {
					sample(targets[1], 0, nil)
					sample(105, 3, nil)
				},
				120: func() {
					second()
					sample(targets[2], 0, nil)
				},
			})
		}})
	}})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return out
}

// TestRowLogitsIndependentOfMicroBatch checks, below the engine's loop, the
// property that TestTraceTokensIndependentOfBatch relies on: with the
// engine's context parameters, the logits of a sequence's row are the same
// bits in every micro-batch that build can make, and with 1 or 2 threads.
// The sequence spans about 400 KV cells; with llama.cpp's CPU flash
// attention a row alone in its micro-batch gets other bits on 2 threads.
func TestRowLogitsIndependentOfMicroBatch(t *testing.T) {
	e := newTestEngine(t, tinyQ8(t), Config{Parallel: 8, Prompts: 2, ContextSize: 512})
	lctx, err := llama.InitFromModel(e.model, contextParams(e.cfg))
	if err != nil || lctx == 0 {
		t.Fatalf("context: %v", err)
	}
	defer llama.Free(lctx)
	mem, err := llama.GetMemory(lctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := llama.BatchInit(int32(e.cfg.BatchSize), 0, 1)
	defer llama.BatchFree(batch)
	type tok struct {
		seq    llama.SeqId
		id     llama.Token
		pos    llama.Pos
		logits bool
	}
	// decode decodes toks and returns a copy of the logits of toks[at].
	decode := func(at int, toks ...tok) []float32 {
		t.Helper()
		batch.Clear()
		for _, k := range toks {
			batch.Add(k.id, k.pos, []llama.SeqId{k.seq}, k.logits)
		}
		if ret, err := llama.Decode(lctx, batch); err != nil || ret != 0 {
			t.Fatalf("decode %v: %d %v", toks, ret, err)
		}
		if at < 0 {
			return nil
		}
		l, err := llama.GetLogitsIth(lctx, int32(at), e.nVocab)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Clone(l)
	}
	// History: 400 tokens on sequence 10, one step at a time beside a
	// padding token on sequence 9, on one thread.
	const hist, histLen = llama.SeqId(10), 400
	llama.SetNThreads(lctx, 1, 1)
	for pos := range llama.Pos(histLen) {
		decode(-1, tok{9, 0, 0, true}, tok{hist, llama.Token(pos*7%200 + 1), pos, true})
		llama.MemorySeqRm(mem, 9, -1, -1)
	}
	next := tok{hist, 42, histLen, true}
	layouts := []struct {
		name   string
		target llama.SeqId
		others []llama.SeqId // other traces; a seq < 0 is a padding token on -seq
	}{
		{"lone, padding below", 3, []llama.SeqId{-2}},
		{"two traces", 1, []llama.SeqId{2}},
		{"first of four", 1, []llama.SeqId{2, 3, 4}},
		{"third of eight with holes", 3, []llama.SeqId{1, -2, 4, -5, 6, 7, 8}},
		{"last of five", 8, []llama.SeqId{4, 5, 6, 7}},
		// build never leaves a row alone, but with Q8_0 weights and
		// flash attention off even that gives the same bits.
		{"alone", 3, nil},
	}
	var ref []float32
	for _, threads := range []int32{1, 2} {
		llama.SetNThreads(lctx, threads, threads)
		for _, l := range layouts {
			seqs := append([]llama.SeqId{l.target}, l.others...)
			slices.SortFunc(seqs, func(a, b llama.SeqId) int { return cmp.Compare(max(a, -a), max(b, -b)) })
			var toks []tok
			at := 0
			for _, s := range seqs {
				switch {
				case s == l.target:
					llama.MemorySeqCp(mem, hist, s, -1, -1)
					at = len(toks)
					toks = append(toks, tok{s, next.id, next.pos, true})
				case s < 0:
					toks = append(toks, tok{-s, 0, 0, len(l.others) == 1})
				default:
					llama.MemorySeqCp(mem, hist, s, -1, -1)
					toks = append(toks, tok{s, llama.Token(s) + 60, next.pos, true})
				}
			}
			got := decode(at, toks...)
			for _, s := range seqs {
				llama.MemorySeqRm(mem, max(s, -s), -1, -1)
			}
			if ref == nil {
				ref = got
				continue
			}
			if !slices.Equal(got, ref) {
				t.Errorf("%d threads, %s: the row's logits differ from 1 thread, %s", threads, l.name, layouts[0].name)
			}
		}
	}
}

// TestReproducibility: run.json says whether a configuration reproduces
// traces, and why.
func TestReproducibility(t *testing.T) {
	tests := []struct {
		cfg  Config
		want bool
	}{
		{Config{Device: nativelib.CPU}, true},
		{Config{Device: nativelib.CPU, Threads: 7, Parallel: 3}, true},
		{Config{Device: nativelib.CPU, KVUnified: true}, false},
		{Config{Device: nativelib.CUDA}, false},
	}
	for _, tc := range tests {
		got, note := reproducibility(tc.cfg)
		if got != tc.want || note == "" {
			t.Errorf("reproducibility(%+v) = %v, %q; want %v with a reason", tc.cfg, got, note, tc.want)
		}
	}
	e := newTestEngine(t, tinyQ8(t), Config{})
	if info := e.Info(); !info.Reproducible || info.ReproducibleNote == "" {
		t.Errorf("Info: reproducible %v, note %q", info.Reproducible, info.ReproducibleNote)
	}
}
