package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine"
)

// scripted is a server whose n-th request (0-based) is answered by step n;
// requests past the script repeat the last step.
type scripted struct {
	mu    sync.Mutex
	n     int
	steps []http.HandlerFunc
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	i := min(s.n, len(s.steps)-1)
	s.n++
	s.mu.Unlock()
	s.steps[i](w, r)
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func fail(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}
}

func stream(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { writeEvents(w, events...) }
}

// cut writes events, then a partial line, then aborts the connection.
func cut(partial string, events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeEvents(w, events...)
		fmt.Fprint(w, partial)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
}

// setup starts a scripted server and an engine with a sleep recorder.
func setup(t *testing.T, cfg Config, steps ...http.HandlerFunc) (*scripted, *sleepRecorder, engine.Session) {
	t.Helper()
	sc := &scripted{steps: steps}
	srv := newServer(t, sc.ServeHTTP)
	rec := &sleepRecorder{}
	cfg.Endpoints = []string{srv.URL + "/v1"}
	cfg.Sleep = rec.sleep
	cfg.SkipProbe, cfg.SkipPrefill = true, true
	e := newTestEngine(t, cfg)
	return sc, rec, openSession(t, e, engine.Prompt{User: "x"})
}

func TestRetryServerErrors(t *testing.T) {
	for _, status := range []int{500, 502, 503, 504, 408} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			retry := Retry{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}
			sc, rec, s := setup(t, Config{Retry: retry},
				fail(status, `{"error":{"message":"overloaded"}}`),
				fail(status, `{"error":{"message":"overloaded"}}`),
				stream(completeStream(3)...))
			var c collector
			res, err := s.Sample(context.Background(), testSampling, c.fn)
			if err != nil || res.Finish != engine.FinishStop || len(c.toks) != 3 {
				t.Fatalf("result %+v, %d tokens, err %v", res, len(c.toks), err)
			}
			if sc.count() != 3 {
				t.Errorf("%d requests, want 3", sc.count())
			}
			// Jittered exponential backoff: retry i waits in [d/2, d],
			// d = 100 ms · 2^i.
			d := rec.get()
			if len(d) != 2 || d[0] < 50*time.Millisecond || d[0] > 100*time.Millisecond || d[1] < 100*time.Millisecond || d[1] > 200*time.Millisecond {
				t.Errorf("delays %v", d)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	retry := Retry{BaseDelay: time.Millisecond, MaxRetryAfter: 30 * time.Second}
	sc, rec, s := setup(t, Config{Retry: retry},
		fail(429, `{"error":{"message":"rate limited"}}`, "Retry-After", "7"),
		fail(429, `{"error":"slow down"}`, "Retry-After", "Fri, 31 Dec 2100 23:59:59 GMT"),
		fail(503, `{}`, "Retry-After", "2"),
		stream(completeStream(1)...))
	res, err := s.Sample(context.Background(), testSampling, nil)
	if err != nil || res.Finish != engine.FinishStop {
		t.Fatalf("result %+v, err %v", res, err)
	}
	if sc.count() != 4 {
		t.Errorf("%d requests", sc.count())
	}
	// 7 s as asked; a date in 2100 capped at MaxRetryAfter; 2 s as asked.
	want := []time.Duration{7 * time.Second, 30 * time.Second, 2 * time.Second}
	if d := rec.get(); fmt.Sprint(d) != fmt.Sprint(want) {
		t.Errorf("delays %v, want %v", d, want)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", -1},
		{"0", 0},
		{" 120 ", 120 * time.Second},
		{"-3", -1},
		{"soon", -1},
		{"Fri, 02 Jan 2026 03:04:15 GMT", 10 * time.Second}, // IMF-fixdate
		{"Friday, 02-Jan-26 03:05:05 GMT", time.Minute},     // RFC 850
		{"Fri Jan  2 03:04:06 2026", time.Second},           // asctime
		{"Thu, 01 Jan 2026 00:00:00 GMT", 0},                // past
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	r := Retry{BaseDelay: 500 * time.Millisecond, MaxDelay: 20 * time.Second}.withDefaults()
	tests := []struct {
		retry    int
		u        float64
		want     time.Duration
		wantDesc string
	}{
		{0, 0, 250 * time.Millisecond, "half of the base"},
		{0, 0.999999, 500 * time.Millisecond, "about the base"},
		{3, 0.5, 3 * time.Second, "d = 4 s, 2 s + 0.5·2 s"},
		{6, 0, 10 * time.Second, "d capped at 20 s"},
		{60, 0.5, 15 * time.Second, "no overflow"},
	}
	for _, tt := range tests {
		got := r.backoff(tt.retry, tt.u)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("backoff(%d, %v) = %v, want %v (%s)", tt.retry, tt.u, got, tt.want, tt.wantDesc)
		}
	}
	if d := (Retry{}).withDefaults(); d.MaxRetries != 5 || d.BaseDelay != 500*time.Millisecond || d.MaxDelay != 20*time.Second || d.MaxRetryAfter != time.Minute {
		t.Errorf("defaults %+v", d)
	}
	if d := (Retry{MaxRetries: -1}).withDefaults(); d.MaxRetries != 0 {
		t.Errorf("MaxRetries -1 gives %d retries", d.MaxRetries)
	}
}

func TestCutMidTrace(t *testing.T) {
	sc, _, s := setup(t, Config{}, cut(`data: {"choi`, tokens(3)...), stream(completeStream(3)...))
	var c collector
	res, err := s.Sample(context.Background(), testSampling, c.fn)
	if !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("error %v, want ErrInterrupted", err)
	}
	if !strings.Contains(err.Error(), "after 3 tokens") || !strings.Contains(err.Error(), "stream") {
		t.Errorf("error message %q", err)
	}
	if len(c.toks) != 3 || res.Tokens != 3 || sc.count() != 1 {
		t.Errorf("%d tokens delivered, result %+v, %d requests", len(c.toks), res, sc.count())
	}
}

func TestCutBeforeFirstTokenIsRetried(t *testing.T) {
	role := `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`
	sc, rec, s := setup(t, Config{},
		cut(`data: {"choices":[{"index":0,"delta":{"content":"w0"},"logp`, role),
		cut(""), // connection reset before any byte of the body
		stream(completeStream(4)...))
	var c collector
	res, err := s.Sample(context.Background(), testSampling, c.fn)
	if err != nil || res.Finish != engine.FinishStop || res.Text != "w0w1w2w3" {
		t.Fatalf("result %+v, err %v", res, err)
	}
	if len(c.toks) != 4 || sc.count() != 3 || len(rec.get()) != 2 {
		t.Errorf("%d tokens, %d requests, %d sleeps", len(c.toks), sc.count(), len(rec.get()))
	}
	for i, tok := range c.toks {
		if tok.Index != i {
			t.Errorf("token %d has index %d", i, tok.Index)
		}
	}
}

func TestMalformedSSE(t *testing.T) {
	bad := `{"choices":[{"index":0,"delta":{"content":"x"},"logprobs":{"content":[{"token":"x","logprob":-0.1,"top_logprobs":[{"token":"x","logprob":}]}]}}]}`
	t.Run("before the first token: clear error, no retry", func(t *testing.T) {
		sc, _, s := setup(t, Config{}, stream(bad), stream(completeStream(1)...))
		_, err := s.Sample(context.Background(), testSampling, nil)
		if err == nil || errors.Is(err, engine.ErrInterrupted) {
			t.Fatalf("error %v", err)
		}
		t.Log(err)
		for _, want := range []string{"malformed SSE event 1", "top_logprobs[0].logprob", "expected number", `…"`, `\"logprob\":}]}]}}]}"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
		if sc.count() != 1 {
			t.Errorf("%d requests, want 1", sc.count())
		}
	})
	t.Run("mid-trace: ErrInterrupted", func(t *testing.T) {
		_, _, s := setup(t, Config{}, stream(append(tokens(2), "not json at all")...))
		var c collector
		_, err := s.Sample(context.Background(), testSampling, c.fn)
		if !errors.Is(err, engine.ErrInterrupted) || !strings.Contains(err.Error(), "malformed SSE event 3") || len(c.toks) != 2 {
			t.Errorf("error %v after %d tokens", err, len(c.toks))
		}
	})
}

func TestHTMLAnswer(t *testing.T) {
	sc, _, s := setup(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<html><body>Please log in</body></html>")
	})
	_, err := s.Sample(context.Background(), testSampling, nil)
	if err == nil || !strings.Contains(err.Error(), "HTML page") || !strings.Contains(err.Error(), "Please log in") || sc.count() != 1 {
		t.Errorf("error %v, %d requests", err, sc.count())
	}
}

func TestEndOfStreamChecks(t *testing.T) {
	tests := []struct {
		name   string
		events []string
		tokens int
		want   string
	}{
		{"[DONE] without finish_reason", append(tokens(2), "[DONE]"), 2, "without a finish_reason"},
		{"EOF without finish_reason", tokens(2), 2, "before [DONE]"},
		{"abort after tokens", append(tokens(2), finishChunk("abort"), "[DONE]"), 2, `finish_reason "abort"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, s := setup(t, Config{}, stream(tt.events...))
			var c collector
			_, err := s.Sample(context.Background(), testSampling, c.fn)
			if !errors.Is(err, engine.ErrInterrupted) || !strings.Contains(err.Error(), tt.want) || len(c.toks) != tt.tokens {
				t.Errorf("error %v after %d tokens", err, len(c.toks))
			}
		})
	}
	t.Run("finish_reason without [DONE] is accepted", func(t *testing.T) {
		_, _, s := setup(t, Config{}, stream(append(tokens(2), finishChunk("length"))...))
		res, err := s.Sample(context.Background(), testSampling, nil)
		if err != nil || res.Finish != engine.FinishLength || res.Tokens != 2 {
			t.Errorf("result %+v, err %v", res, err)
		}
	})
	t.Run("abort before any token is retried", func(t *testing.T) {
		sc, _, s := setup(t, Config{}, stream(finishChunk("abort"), "[DONE]"), stream(completeStream(1)...))
		res, err := s.Sample(context.Background(), testSampling, nil)
		if err != nil || res.Finish != engine.FinishStop || sc.count() != 2 {
			t.Errorf("result %+v, err %v, %d requests", res, err, sc.count())
		}
	})
}

func TestInStreamError(t *testing.T) {
	vllmErr := `{"error":{"object":"error","message":"EngineCore died","type":"InternalServerError","code":500}}`
	t.Run("before tokens: retried", func(t *testing.T) {
		sc, _, s := setup(t, Config{}, stream(vllmErr), stream(completeStream(1)...))
		if _, err := s.Sample(context.Background(), testSampling, nil); err != nil || sc.count() != 2 {
			t.Errorf("err %v, %d requests", err, sc.count())
		}
	})
	t.Run("llama.cpp error field after tokens: interrupted", func(t *testing.T) {
		_, _, s := setup(t, Config{}, func(w http.ResponseWriter, r *http.Request) {
			writeEvents(w, tokens(1)...)
			fmt.Fprint(w, "error: {\"code\":500,\"message\":\"slot crashed\",\"type\":\"server_error\"}\n\n")
		})
		var c collector
		_, err := s.Sample(context.Background(), testSampling, c.fn)
		if !errors.Is(err, engine.ErrInterrupted) || !strings.Contains(err.Error(), "slot crashed") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("context overflow in the stream", func(t *testing.T) {
		sc, _, s := setup(t, Config{}, stream(`{"error":{"message":"the request exceeds the available context size"}}`))
		_, err := s.Sample(context.Background(), testSampling, nil)
		if !errors.Is(err, engine.ErrContextOverflow) || sc.count() != 1 {
			t.Errorf("error %v, %d requests", err, sc.count())
		}
	})
}

func TestClientErrorsNotRetried(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		want     []string
		overflow bool
	}{
		{"vLLM context length", 400, `{"object":"error","message":"This model's maximum context length is 40960 tokens. However, you requested 41000 tokens.","type":"BadRequestError","param":null,"code":400}`,
			[]string{"HTTP 400", "maximum context length"}, true},
		{"SGLang context length", 400, `{"object":"error","message":"The input (50000 tokens) is longer than the model's context length (40960 tokens).","type":"BadRequestError","code":400}`,
			[]string{"context length"}, true},
		{"bad request", 400, `{"error":{"message":"top_logprobs must be between 0 and 20"}}`, []string{"top_logprobs must be between 0 and 20"}, false},
		{"unknown model", 404, `{"error":{"message":"model \"qwen9\" not found"}}`, []string{"POST /v1/chat/completions: HTTP 404", "not found", "wrong base URL or model name", "--model"}, false},
		{"FastAPI detail", 422, `{"detail":[{"loc":["body","n"],"msg":"Input should be 1"}]}`, []string{"HTTP 422", "Input should be 1"}, false},
		{"plain text", 400, "bad things", []string{"bad things"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, _, s := setup(t, Config{}, fail(tt.status, tt.body), stream(completeStream(1)...))
			_, err := s.Sample(context.Background(), testSampling, nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if errors.Is(err, engine.ErrContextOverflow) != tt.overflow {
				t.Errorf("ErrContextOverflow: %v, want %v", errors.Is(err, engine.ErrContextOverflow), tt.overflow)
			}
			want := 1
			if tt.status == http.StatusNotFound {
				want = 2 // and GET /v1/models, for the list of models
			}
			if sc.count() != want {
				t.Errorf("%d requests, want %d", sc.count(), want)
			}
		})
	}
}

func TestRetriesExhausted(t *testing.T) {
	sc, rec, s := setup(t, Config{Retry: Retry{MaxRetries: 2}}, fail(503, `{"error":{"message":"busy"}}`))
	_, err := s.Sample(context.Background(), testSampling, nil)
	if err == nil || !strings.Contains(err.Error(), "gave up after 3 attempts") || !strings.Contains(err.Error(), "busy") {
		t.Errorf("error %v", err)
	}
	if sc.count() != 3 || len(rec.get()) != 2 {
		t.Errorf("%d requests, %d sleeps", sc.count(), len(rec.get()))
	}
}

func TestConnectionRefusedRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rec := &sleepRecorder{}
	e := newTestEngine(t, Config{Endpoints: []string{"http://" + addr}, Retry: Retry{MaxRetries: 3}, Sleep: rec.sleep, SkipProbe: true, SkipPrefill: true})
	s := openSession(t, e, engine.Prompt{User: "x"})
	_, err = s.Sample(context.Background(), testSampling, nil)
	if err == nil || !strings.Contains(err.Error(), "connection refused: nothing listens on "+addr) || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Errorf("error %v", err)
	}
	if len(rec.get()) != 3 {
		t.Errorf("%d sleeps, want 3", len(rec.get()))
	}
}

func TestAPIKeyNeverLeaks(t *testing.T) {
	const key = "sk-secret-123"
	var auth atomic.Value
	echo := `{"error":{"message":"Incorrect API key provided: sk-secret-123. You can find your API key at …","type":"invalid_request_error"}}`
	sc := &scripted{steps: []http.HandlerFunc{
		fail(500, echo),
		func(w http.ResponseWriter, r *http.Request) {
			auth.Store(r.Header.Get("Authorization"))
			fail(401, echo)(w, r)
		},
	}}
	srv := newServer(t, sc.ServeHTTP)
	var logs bytes.Buffer
	rec := &sleepRecorder{}
	e := newTestEngine(t, Config{
		Endpoints: []string{srv.URL}, APIKey: key, Sleep: rec.sleep, SkipProbe: true, SkipPrefill: true,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	s := openSession(t, e, engine.Prompt{User: "x"})
	_, err := s.Sample(context.Background(), testSampling, nil)
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "[redacted]") {
		t.Fatalf("error %v", err)
	}
	if auth.Load() != "Bearer "+key {
		t.Errorf("Authorization header %q", auth.Load())
	}
	if sc.count() != 2 {
		t.Errorf("%d requests, want 2 (500 retried, 401 not)", sc.count())
	}
	for what, s := range map[string]string{"error": err.Error(), "log": logs.String(), "info": fmt.Sprint(e.Info())} {
		if strings.Contains(s, key) {
			t.Errorf("%s contains the API key: %s", what, s)
		}
	}
	if !strings.Contains(logs.String(), "retrying") {
		t.Errorf("no retry logged: %q", logs.String())
	}
}

func TestCancelDuringBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sc := &scripted{steps: []http.HandlerFunc{fail(503, `{}`)}}
	srv := newServer(t, sc.ServeHTTP)
	e := newTestEngine(t, Config{Endpoints: []string{srv.URL}, SkipProbe: true, SkipPrefill: true,
		Sleep: func(c context.Context, d time.Duration) error {
			cancel()
			return c.Err()
		}})
	s := openSession(t, e, engine.Prompt{User: "x"})
	res, err := s.Sample(ctx, testSampling, nil)
	if err != nil || res.Finish != engine.FinishCancelled {
		t.Errorf("result %+v, err %v", res, err)
	}
}

func TestSleep(t *testing.T) {
	if err := sleep(context.Background(), 0); err != nil {
		t.Errorf("sleep 0: %v", err)
	}
	if err := sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleep 1ms: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleep on a cancelled context: %v", err)
	}
}
