package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
)

func TestNormalizeEndpoint(t *testing.T) {
	tests := []struct {
		in, base, display string
		err               string
	}{
		{"http://gpu1:8000", "http://gpu1:8000", "http://gpu1:8000", ""},
		{"http://gpu1:8000/", "http://gpu1:8000", "http://gpu1:8000", ""},
		{"http://gpu1:8000/v1", "http://gpu1:8000", "http://gpu1:8000", ""},
		{"http://gpu1:8000/v1/", "http://gpu1:8000", "http://gpu1:8000", ""},
		{" https://host/proxy/v1 ", "https://host/proxy", "https://host/proxy", ""},
		{"https://host/v1x", "https://host/v1x", "https://host/v1x", ""},
		{"http://user:secret@host:1/v1", "http://user:secret@host:1", "http://user:xxxxx@host:1", ""},
		{"gpu1:8000", "", "", "scheme must be http or https"},
		{"ftp://host", "", "", "scheme must be http or https"},
		{"http://", "", "", "no host"},
		{"http://host/v1?x=1", "", "", "query"},
		{"http://[::1", "", "", "parse URL"},
	}
	for _, tt := range tests {
		base, display, err := normalizeEndpoint(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("normalizeEndpoint(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || base != tt.base || display != tt.display {
			t.Errorf("normalizeEndpoint(%q) = %q, %q, %v; want %q, %q", tt.in, base, display, err, tt.base, tt.display)
		}
	}
}

func TestNewConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no endpoint", Config{Model: "m"}, "no endpoint"},
		{"bad mode", Config{Endpoints: []string{"http://h"}, Model: "m", Mode: "batch"}, `mode "batch"`},
		{"in-flight", Config{Endpoints: []string{"http://h"}, Model: "m", MaxInFlight: -1}, "max in-flight"},
		{"top logprobs", Config{Endpoints: []string{"http://h"}, Model: "m", TopLogprobs: 21}, "top logprobs 21"},
		{"duplicate", Config{Endpoints: []string{"http://h/v1", "http://h"}, Model: "m", SkipProbe: true}, "listed twice"},
		{"bad endpoint", Config{Endpoints: []string{"http://h", "h2:80"}, Model: "m"}, "endpoint 2"},
		{"no model", Config{Endpoints: []string{"http://h"}, SkipProbe: true}, "no model name"},
		{"connect timeout", Config{Endpoints: []string{"http://h"}, Model: "m", ConnectTimeout: -time.Second}, "connect timeout -1s: must be > 0"},
		{"first-byte timeout", Config{Endpoints: []string{"http://h"}, Model: "m", FirstByteTimeout: -1}, "first-byte timeout -1ns"},
		{"idle timeout", Config{Endpoints: []string{"http://h"}, Model: "m", IdleTimeout: -time.Minute}, "idle timeout -1m0s"},
	}
	for _, tt := range tests {
		_, err := New(context.Background(), tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// captured is one request seen by a test server.
type captured struct {
	path   string
	auth   string
	accept string
	body   map[string]any
}

// captureServer records every request and answers it with a short stream.
func captureServer(t *testing.T) (*[]captured, *sync.Mutex, string) {
	var mu sync.Mutex
	var reqs []captured
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		json.Unmarshal(raw, &body)
		mu.Lock()
		reqs = append(reqs, captured{path: r.URL.Path, auth: r.Header.Get("Authorization"), accept: r.Header.Get("Accept"), body: body})
		mu.Unlock()
		writeEvents(w, completeStream(2)...)
	})
	return &reqs, &mu, srv.URL
}

func TestRequestBody(t *testing.T) {
	t.Setenv("DEEPCONF_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "sk-env-key")
	reqs, _, url := captureServer(t)
	e := newTestEngine(t, Config{
		Endpoints: []string{url}, SkipProbe: true, SkipPrefill: true,
		ExtraBody: map[string]any{"return_tokens_as_token_ids": true},
	})
	sp := testSampling
	sp.Seed = 1<<63 | 5 // the top bit is dropped
	ctx := context.Background()

	chat := openSession(t, e, engine.Prompt{System: "Be brief.", User: "Hello?"})
	if _, err := chat.Sample(ctx, sp, nil); err != nil {
		t.Fatal(err)
	}
	sp.TopK = 0
	thinking := openSession(t, e, engine.Prompt{User: "Why?", Thinking: true})
	if _, err := thinking.Sample(ctx, sp, nil); err != nil {
		t.Fatal(err)
	}
	raw := openSession(t, e, engine.Prompt{Raw: "<|im_start|>user\nJudge this<|im_end|>\n"})
	if _, err := raw.Sample(ctx, sp, nil); err != nil {
		t.Fatal(err)
	}

	if len(*reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(*reqs))
	}
	r := (*reqs)[0]
	if r.path != "/v1/chat/completions" || r.auth != "Bearer sk-env-key" || r.accept != "text/event-stream" {
		t.Errorf("path %q auth %q accept %q", r.path, r.auth, r.accept)
	}
	want := map[string]any{
		"model": "test-model", "stream": true, "n": 1.0, "temperature": 0.6, "top_p": 0.95, "top_k": 20.0,
		"max_tokens": 64.0, "seed": 5.0, "logprobs": true, "top_logprobs": 3.0,
		"return_tokens_as_token_ids": true,
	}
	for k, v := range want {
		if r.body[k] != v {
			t.Errorf("chat body[%q] = %v, want %v", k, r.body[k], v)
		}
	}
	if got := fmt.Sprint(r.body["stream_options"]); got != "map[include_usage:true]" {
		t.Errorf("stream_options = %s", got)
	}
	if got := fmt.Sprint(r.body["chat_template_kwargs"]); got != "map[enable_thinking:false]" {
		t.Errorf("chat_template_kwargs = %s", got)
	}
	if got := fmt.Sprint(r.body["messages"]); got != "[map[content:Be brief. role:system] map[content:Hello? role:user]]" {
		t.Errorf("messages = %s", got)
	}
	if _, ok := r.body["reasoning_effort"]; ok {
		t.Errorf("reasoning_effort sent to a server not identified as Ollama")
	}

	r = (*reqs)[1]
	if _, ok := r.body["top_k"]; ok {
		t.Errorf("top_k sent although Sampling.TopK is 0")
	}
	if got := fmt.Sprint(r.body["chat_template_kwargs"]); got != "map[enable_thinking:true]" {
		t.Errorf("thinking chat_template_kwargs = %s", got)
	}

	r = (*reqs)[2]
	if r.path != "/v1/completions" || r.body["prompt"] != "<|im_start|>user\nJudge this<|im_end|>\n" || r.body["logprobs"] != 3.0 {
		t.Errorf("raw prompt request: path %q body %v", r.path, r.body)
	}
	for _, k := range []string{"messages", "top_logprobs", "chat_template_kwargs"} {
		if _, ok := r.body[k]; ok {
			t.Errorf("completions body has %q", k)
		}
	}
}

// TestCompletionsModeRendersPrompt: completions mode sends the prompt
// rendered with the configured chat template, of any family.
func TestCompletionsModeRendersPrompt(t *testing.T) {
	p := engine.Prompt{System: "S", User: "U"}
	for _, tc := range []struct{ family, want string }{
		{"qwen3", "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
		{"llama3", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nS<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{"gemma3", "<bos><start_of_turn>user\nS\n\nU<end_of_turn>\n<start_of_turn>model\n"},
	} {
		reqs, _, url := captureServer(t)
		tmpl, err := chat.Builtin(tc.family)
		if err != nil {
			t.Fatal(err)
		}
		e := newTestEngine(t, Config{Endpoints: []string{url}, Mode: Completions, APIKey: "k", SkipProbe: true, SkipPrefill: true, Template: tmpl})
		s := openSession(t, e, p)
		if _, err := s.Sample(context.Background(), testSampling, nil); err != nil {
			t.Fatal(err)
		}
		r := (*reqs)[0]
		if r.path != "/v1/completions" || r.body["prompt"] != tc.want || r.auth != "Bearer k" {
			t.Errorf("%s: path %q prompt %q auth %q", tc.family, r.path, r.body["prompt"], r.auth)
		}
		if info := e.Info(); info.ChatTemplate != tc.family {
			t.Errorf("%s: Info.ChatTemplate = %q", tc.family, info.ChatTemplate)
		}
		if got, err := e.RenderPrompt(p); err != nil || got != tc.want {
			t.Errorf("%s: RenderPrompt = %q, %v", tc.family, got, err)
		}
	}
}

// TestCompletionsModeNeedsTemplate: without a chat template, completions
// mode refuses a chat prompt and names the flag; raw prompts still work.
func TestCompletionsModeNeedsTemplate(t *testing.T) {
	_, _, url := captureServer(t)
	e := newTestEngine(t, Config{Endpoints: []string{url}, Mode: Completions, SkipProbe: true, SkipPrefill: true})
	_, err := e.Open(context.Background(), engine.Prompt{User: "U"})
	if err == nil || !strings.Contains(err.Error(), "--chat-template") {
		t.Errorf("Open without a template: %v", err)
	}
	if _, err := e.Open(context.Background(), engine.Prompt{Raw: "text"}); err != nil {
		t.Errorf("raw prompt: %v", err)
	}
}

func TestOpenPrefill(t *testing.T) {
	reqs, _, url := captureServer(t)
	e := newTestEngine(t, Config{Endpoints: []string{url}, SkipProbe: true})
	s := openSession(t, e, engine.Prompt{User: "Hello?"})
	if len(*reqs) != 1 {
		t.Fatalf("Open sent %d requests, want 1", len(*reqs))
	}
	if r := (*reqs)[0]; r.body["max_tokens"] != 1.0 || r.body["temperature"] != 0.0 {
		t.Errorf("prefill body %v", r.body)
	}
	// usageChunk(10, n) in completeStream reports 10 prompt tokens.
	if s.PromptTokens() != 10 {
		t.Errorf("PromptTokens = %d, want 10", s.PromptTokens())
	}
}

func TestSampleValidates(t *testing.T) {
	e := newTestEngine(t, Config{Endpoints: []string{"http://127.0.0.1:1"}, SkipProbe: true, SkipPrefill: true})
	s := openSession(t, e, engine.Prompt{User: "x"})
	sp := testSampling
	sp.TopLogprobs = 0
	if _, err := s.Sample(context.Background(), sp, nil); err == nil || !strings.Contains(err.Error(), "top_logprobs") {
		t.Errorf("error = %v", err)
	}
	if _, err := e.Open(context.Background(), engine.Prompt{}); err == nil {
		t.Errorf("Open of an empty prompt succeeded")
	}
}

func TestFinishReason(t *testing.T) {
	tests := []struct {
		in   string
		want engine.FinishReason
		err  bool
	}{
		{"stop", engine.FinishStop, false},
		{"eos", engine.FinishStop, false},
		{"eos_token", engine.FinishStop, false},
		{"length", engine.FinishLength, false},
		{"abort", "", true},
		{"content_filter", "", true},
		{"", "", true},
	}
	for _, tt := range tests {
		got, err := finishReason(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("finishReason(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// TestEarlyStop: the TokenFunc returns false after N tokens; the server must
// see the client go away, and the result is FinishCancelled with N tokens.
func TestEarlyStop(t *testing.T) {
	const n = 5
	disconnected := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %s\n\n", chatChunk(fmt.Sprintf("w%d", i), -0.5, -0.5, -1)); err != nil {
				break
			}
			f.Flush()
			select {
			case <-r.Context().Done():
			default:
				continue
			}
			break
		}
		<-r.Context().Done()
		close(disconnected)
	})
	e := newTestEngine(t, Config{Endpoints: []string{srv.URL}, SkipProbe: true, SkipPrefill: true})
	s := openSession(t, e, engine.Prompt{User: "x"})
	c := collector{stop: n}
	res, err := s.Sample(context.Background(), testSampling, c.fn)
	if err != nil {
		t.Fatal(err)
	}
	if res.Finish != engine.FinishCancelled || res.Tokens != n || len(c.toks) != n {
		t.Errorf("result %+v after %d tokens; want cancelled with %d", res, len(c.toks), n)
	}
	if res.Text != "w0w1w2w3w4" {
		t.Errorf("text %q", res.Text)
	}
	select {
	case <-disconnected:
	case <-time.After(30 * time.Second): // deadlock guard only
		t.Fatal("the server never saw the client disconnect")
	}
}

// TestContextCancel: cancelling the caller's context stops the trace with
// FinishCancelled and a nil error.
func TestContextCancel(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeEvents(w, tokens(3)...)
		<-r.Context().Done()
	})
	e := newTestEngine(t, Config{Endpoints: []string{srv.URL}, SkipProbe: true, SkipPrefill: true})
	s := openSession(t, e, engine.Prompt{User: "x"})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	res, err := s.Sample(ctx, testSampling, func(*engine.Token) bool {
		n++
		if n == 3 {
			cancel()
		}
		return true
	})
	if err != nil || res.Finish != engine.FinishCancelled || res.Tokens != 3 {
		t.Errorf("result %+v, err %v; want cancelled with 3 tokens", res, err)
	}
	// A context cancelled before the start gives an empty cancelled trace.
	res, err = s.Sample(ctx, testSampling, nil)
	if err != nil || res.Finish != engine.FinishCancelled || res.Tokens != 0 {
		t.Errorf("pre-cancelled: %+v, %v", res, err)
	}
}

// TestInFlightBound runs more traces than slots over three endpoints and
// checks that no endpoint ever has more than the bound in flight, that all
// slots fill up, and that every trace completes.
func TestInFlightBound(t *testing.T) {
	const bound, nEndpoints, traces = 2, 3, 20
	var mu sync.Mutex
	inflight := make([]int, nEndpoints)
	peak := make([]int, nEndpoints)
	total, served := 0, 0
	full := make(chan struct{})
	var fullOnce sync.Once
	release := make(chan struct{})
	var urls []string
	for i := range nEndpoints {
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			inflight[i]++
			peak[i] = max(peak[i], inflight[i])
			total++
			if total == bound*nEndpoints {
				fullOnce.Do(func() { close(full) })
			}
			mu.Unlock()
			<-release
			// Count before answering: the client may return, free its
			// slot and send its next request as soon as the stream ends,
			// before this handler runs again (counting after the answer
			// saw a third request "in flight" beside two finished ones).
			mu.Lock()
			served++
			inflight[i]--
			total--
			mu.Unlock()
			writeEvents(w, completeStream(1)...)
		})
		urls = append(urls, srv.URL)
	}
	e := newTestEngine(t, Config{Endpoints: urls, MaxInFlight: bound, SkipProbe: true, SkipPrefill: true})
	if info := e.Info(); info.Parallel != bound*nEndpoints {
		t.Errorf("Info.Parallel = %d", info.Parallel)
	}
	s := openSession(t, e, engine.Prompt{User: "x"})
	var wg sync.WaitGroup
	errs := make(chan error, traces)
	for i := range traces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sp := testSampling
			sp.Seed = uint64(i)
			res, err := s.Sample(context.Background(), sp, nil)
			if err == nil && res.Finish != engine.FinishStop {
				err = fmt.Errorf("finish %q", res.Finish)
			}
			errs <- err
		}()
	}
	select {
	case <-full:
	case <-time.After(30 * time.Second): // deadlock guard only
		t.Fatal("the slots never all filled")
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for i, p := range peak {
		if p != bound {
			t.Errorf("endpoint %d: peak in flight %d, want %d", i, p, bound)
		}
	}
	if served != traces {
		t.Errorf("served %d traces, want %d", served, traces)
	}
}

func TestLeastLoadedPrefersHome(t *testing.T) {
	e := &Engine{cfg: Config{MaxInFlight: 2}, freed: make(chan struct{})}
	a, b := &endpoint{index: 0}, &endpoint{index: 1}
	e.endpoints = []*endpoint{a, b}
	ctx := context.Background()
	got, _ := e.acquire(ctx, b, nil) // tie: the home endpoint wins
	if got != b {
		t.Fatalf("first pick %d, want the home endpoint 1", got.index)
	}
	got, _ = e.acquire(ctx, b, nil) // a is less loaded
	if got != a {
		t.Fatalf("second pick %d, want 0", got.index)
	}
	got, _ = e.acquire(ctx, nil, a) // pinned
	if got != a || a.load != 2 {
		t.Fatalf("pinned pick %d load %d", got.index, a.load)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := e.acquire(cctx, nil, a); err == nil { // a is full
		t.Fatal("acquire on a full pinned endpoint returned")
	}
	e.release(a)
	if got, _ := e.acquire(ctx, nil, a); got != a {
		t.Fatal("slot not released")
	}
}

func TestSessionCloseWaits(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		writeEvents(w, completeStream(1)...)
	})
	e := newTestEngine(t, Config{Endpoints: []string{srv.URL}, SkipProbe: true, SkipPrefill: true})
	s, err := e.Open(context.Background(), engine.Prompt{User: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var gotToken atomic.Bool
	go s.Sample(context.Background(), testSampling, func(*engine.Token) bool {
		gotToken.Store(true)
		return true
	})
	<-started
	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	close(release)
	<-closed
	// The token is delivered before Sample returns, and Close waits for
	// Sample to return.
	if !gotToken.Load() {
		t.Error("Close returned before the running trace finished")
	}
	if _, err := s.Sample(context.Background(), testSampling, nil); err == nil || !strings.Contains(err.Error(), "session closed") {
		t.Errorf("Sample after Close: %v", err)
	}
}

func TestNonStreamingAnswer(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},`+
			`"logprobs":{"content":[{"token":"Hi","logprob":-0.1,"top_logprobs":[{"token":"Hi","logprob":-0.1}]}]},"finish_reason":"stop"}],`+
			`"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`)
	})
	e := newTestEngine(t, Config{Endpoints: []string{srv.URL}, SkipProbe: true, SkipPrefill: true})
	s := openSession(t, e, engine.Prompt{User: "x"})
	var c collector
	res, err := s.Sample(context.Background(), testSampling, c.fn)
	if err != nil || res.Text != "Hi" || res.Finish != engine.FinishStop || len(c.toks) != 1 {
		t.Errorf("result %+v, %d tokens, err %v", res, len(c.toks), err)
	}
}

func TestInfo(t *testing.T) {
	e := newTestEngine(t, Config{Endpoints: []string{"http://u:pw@a:1/v1", "http://b:2"}, APIKey: "sk-secret", SkipProbe: true, MaxInFlight: 4})
	info := e.Info()
	if info.Name != "openai" || info.Model != "test-model" || info.Device != "http://u:xxxxx@a:1,http://b:2" || info.Parallel != 8 {
		t.Errorf("info %+v", info)
	}
	if s := fmt.Sprint(info); strings.Contains(s, "sk-secret") || strings.Contains(s, "pw@") {
		t.Errorf("info leaks a secret: %s", s)
	}
}
