package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine"
)

// The tests of this file use short timeouts and assert only that the calls
// return with errors that name the cause, never how long they took. A
// timeout that a test expects to expire is 100 ms; one that must not expire
// on a loaded machine (a local connect, an answer that comes at once) is
// seconds.
const (
	shortTimeout = 100 * time.Millisecond
	safeTimeout  = 5 * time.Second
)

// short returns cfg with short first-byte and idle timeouts.
func short(cfg Config) Config {
	cfg.ConnectTimeout, cfg.FirstByteTimeout, cfg.IdleTimeout = safeTimeout, shortTimeout, shortTimeout
	return cfg
}

// tcpServer accepts TCP connections and hands each to handle on its own
// goroutine; it returns the server's URL. The connections are closed at the
// end of the test.
func tcpServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go handle(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return "http://" + ln.Addr().String()
}

// silentListener is the server of "accepts connections but never
// answers": it reads the requests and never writes.
func silentListener(t *testing.T) string {
	return tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
}

// closingListener reads the request and closes the connection without an
// answer.
func closingListener(t *testing.T) string {
	return tcpServer(t, func(c net.Conn) {
		c.Read(make([]byte, 4096))
		c.Close()
	})
}

// refusedAddr returns host:port where nothing listens.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// stall sends the response headers, then events, then nothing until the
// client goes away.
func stall(events ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		writeEvents(w, events...)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}
}

// silent answers nothing until the client goes away.
func silent(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

// roleChunk is the role-only first chunk of a chat stream (no token).
const roleChunk = `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`

// lacks returns the strings of want that s does not contain.
func lacks(s string, want ...string) []string {
	var out []string
	for _, w := range want {
		if !strings.Contains(s, w) {
			out = append(out, w)
		}
	}
	return out
}

func TestSampleTimeouts(t *testing.T) {
	tests := []struct {
		name        string
		steps       []http.HandlerFunc
		want        []string
		interrupted bool
		requests    int
		timeout     time.Duration // first-byte and idle; 0: shortTimeout
	}{
		{"headers, then no event: retried, then gives up",
			[]http.HandlerFunc{stall()},
			[]string{"POST /v1/chat/completions: first-byte timeout: the server sent response headers but no data in 100ms", "--first-byte-timeout", "gave up after 2 attempts"},
			false, 2, 0},
		{"no headers: retried, then answered",
			[]http.HandlerFunc{silent, stream(completeStream(2)...)},
			nil, false, 2, time.Second},
		{"role chunk, then stall before the first token: retried",
			[]http.HandlerFunc{stall(roleChunk), stream(completeStream(2)...)},
			nil, false, 2, time.Second},
		{"tokens, then stall: interrupted, not retried",
			[]http.HandlerFunc{stall(tokens(2)...), stream(completeStream(2)...)},
			[]string{"after 2 tokens", "idle timeout: the stream stalled: no event for 100ms after 2 events", "--idle-timeout"},
			true, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := short(Config{Retry: Retry{MaxRetries: 1}})
			if tt.timeout > 0 {
				cfg.FirstByteTimeout, cfg.IdleTimeout = tt.timeout, tt.timeout
			}
			sc, rec, s := setup(t, cfg, tt.steps...)
			var c collector
			res, err := s.Sample(context.Background(), testSampling, c.fn)
			if tt.want == nil {
				if err != nil || res.Finish != engine.FinishStop || len(c.toks) != 2 || len(rec.get()) != 1 {
					t.Errorf("result %+v, %d tokens, %d retries, err %v", res, len(c.toks), len(rec.get()), err)
				}
			} else if err == nil {
				t.Fatalf("no error; result %+v", res)
			} else if miss := lacks(err.Error(), tt.want...); miss != nil {
				t.Errorf("error %q lacks %q", err, miss)
			}
			if errors.Is(err, engine.ErrInterrupted) != tt.interrupted {
				t.Errorf("ErrInterrupted %v, want %v (error %v)", errors.Is(err, engine.ErrInterrupted), tt.interrupted, err)
			}
			if sc.count() != tt.requests {
				t.Errorf("%d requests, want %d", sc.count(), tt.requests)
			}
		})
	}
}

func TestSampleSilentServer(t *testing.T) {
	rec := &sleepRecorder{}
	e := newTestEngine(t, short(Config{Endpoints: []string{silentListener(t)}, Retry: Retry{MaxRetries: 2}, Sleep: rec.sleep, SkipProbe: true, SkipPrefill: true}))
	s := openSession(t, e, engine.Prompt{User: "x"})
	_, err := s.Sample(context.Background(), testSampling, nil)
	want := []string{"first-byte timeout: the server accepted the connection but sent no response headers in 100ms", "gave up after 3 attempts"}
	if err == nil {
		t.Fatal("no error")
	}
	if miss := lacks(err.Error(), want...); miss != nil {
		t.Errorf("error %q lacks %q", err, miss)
	}
	if len(rec.get()) != 2 {
		t.Errorf("%d retries, want 2", len(rec.get()))
	}
}

// blockingDialer is a transport whose connections never complete, like a
// host that drops SYN packets.
func blockingDialer() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}}
}

func TestConnectTimeout(t *testing.T) {
	rec := &sleepRecorder{}
	e := newTestEngine(t, Config{Endpoints: []string{"http://10.0.0.1:8000/v1"}, HTTPClient: blockingDialer(), ConnectTimeout: shortTimeout,
		Retry: Retry{MaxRetries: 1}, Sleep: rec.sleep, SkipProbe: true, SkipPrefill: true})
	s := openSession(t, e, engine.Prompt{User: "x"})
	_, err := s.Sample(context.Background(), testSampling, nil)
	want := []string{"http://10.0.0.1:8000: POST /v1/chat/completions: connect timeout: no connection after 100ms", "--connect-timeout", "gave up after 2 attempts"}
	if err == nil {
		t.Fatal("no error")
	}
	if miss := lacks(err.Error(), want...); miss != nil {
		t.Errorf("error %q lacks %q", err, miss)
	}
}

// TestProbeHangingServer is the "hanging server" case: New (what run and
// probe call first) returns with the timeout named, and without a model
// name it does not report "the server lists 0 models".
func TestProbeHangingServer(t *testing.T) {
	var posts atomic.Int32
	modelsOnly := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"object":"list","data":[{"id":"m","owned_by":"vllm"}]}`)
			return
		}
		if r.Method == http.MethodPost {
			posts.Add(1)
		}
		silent(w, r)
	})
	headersOnly := newServer(t, stall())
	tests := []struct {
		name     string
		endpoint string
		model    string
		want     []string
		timeout  time.Duration // first-byte; 0: shortTimeout
	}{
		{"silent, no model", silentListener(t), "",
			[]string{"GET /v1/models: first-byte timeout: the server accepted the connection but sent no response headers in 100ms"}, 0},
		{"silent, with model", silentListener(t), "m",
			[]string{"GET /v1/models: first-byte timeout"}, 0},
		{"headers only", headersOnly.URL, "",
			[]string{"GET /v1/models: first-byte timeout: the server sent response headers but no data in 100ms"}, 0},
		{"models listed, generation hangs", modelsOnly.URL, "",
			[]string{"capability probe", "POST /v1/chat/completions: first-byte timeout: the server accepted the connection but sent no response headers in 1s", "--first-byte-timeout"},
			time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			posts.Store(0)
			cfg := short(Config{Endpoints: []string{tt.endpoint}, Model: tt.model, SkipPrefill: true})
			if tt.timeout > 0 {
				cfg.FirstByteTimeout = tt.timeout
			}
			_, err := New(context.Background(), cfg)
			if err == nil {
				t.Fatal("no error")
			}
			if miss := lacks(err.Error(), tt.want...); miss != nil {
				t.Errorf("error %q lacks %q", err, miss)
			}
			if strings.Contains(err.Error(), "lists") {
				t.Errorf("error %q blames the model list", err)
			}
			if n := posts.Load(); n > 1 {
				t.Errorf("the probe sent %d generation requests; a timed-out probe is not retried", n)
			}
		})
	}
}

func TestProbeConnectionErrors(t *testing.T) {
	t.Setenv("DEEPCONF_API_KEY", "")
	t.Setenv("OPENAI_API_KEY", "")
	const key = "sk-wrong-4242"
	status := func(code int, body string) string {
		return newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			io.WriteString(w, body)
		}).URL
	}
	unauthorized := status(401, `{"error":{"message":"Incorrect API key provided: sk-wrong-4242"}}`)
	refused := refusedAddr(t)
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsServer.Close)
	plain := newServer(t, http.NotFoundHandler().ServeHTTP)
	dnsFail := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, _ := net.SplitHostPort(addr)
			return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}}
		},
	}}
	tests := []struct {
		name     string
		endpoint string
		key      string
		client   *http.Client
		want     []string
	}{
		{"refused", "http://" + refused, "", nil,
			[]string{"http://" + refused + ": GET /v1/models: connection refused: nothing listens on " + refused + " (is the server running, and on this port?)"}},
		{"closed", closingListener(t), "", nil,
			[]string{"GET /v1/models: the server closed the connection without answering"}},
		{"401 with a key", unauthorized, key, nil,
			[]string{"GET /v1/models: HTTP 401 Unauthorized", "[redacted]", "the server refused the API key: check --api-key / $OPENAI_API_KEY"}},
		{"401 without a key", unauthorized, "", nil,
			[]string{"HTTP 401", "no API key was sent: check --api-key / $OPENAI_API_KEY"}},
		{"403", status(403, `{"detail":"Forbidden"}`), key, nil,
			[]string{"HTTP 403 Forbidden", "check --api-key"}},
		{"404 models", status(404, `{"detail":"Not Found"}`), "", nil,
			[]string{"no model name configured (--model), and the server's model list could not be read", "GET /v1/models: HTTP 404 Not Found", "not an OpenAI-compatible server's base URL"}},
		{"500 models", status(500, `{"error":{"message":"boom"}}`), "", nil,
			[]string{"no model name configured (--model), and the server's model list could not be read", "HTTP 500", "boom"}},
		{"DNS", "http://gpu9.example:8000/v1", "", dnsFail,
			[]string{"http://gpu9.example:8000: GET /v1/models: DNS lookup of \"gpu9.example\" failed: no such host"}},
		{"untrusted certificate", tlsServer.URL, "", nil,
			[]string{"GET /v1/models: TLS: the server's certificate is not trusted", "unknown authority"}},
		{"https to a plain server", "https" + strings.TrimPrefix(plain.URL, "http"), "", nil,
			[]string{"the server speaks plain HTTP, not HTTPS (use http://"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			_, err := New(context.Background(), Config{Endpoints: []string{tt.endpoint}, APIKey: tt.key, HTTPClient: tt.client,
				SkipPrefill: true, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err == nil {
				t.Fatal("no error")
			}
			if miss := lacks(err.Error(), tt.want...); miss != nil {
				t.Errorf("error %q lacks %q", err, miss)
			}
			if strings.Contains(err.Error(), "lists 0 models") || strings.Contains(err.Error(), "lists no models") {
				t.Errorf("error %q blames the model list", err)
			}
			if tt.key != "" && strings.Contains(err.Error()+logs.String(), key) {
				t.Errorf("the API key leaks: %v\n%s", err, logs.String())
			}
		})
	}
	// The same errors with a model name: the probe stops at the first
	// request, without retries.
	_, err := New(context.Background(), Config{Endpoints: []string{unauthorized}, Model: "m", APIKey: key, SkipPrefill: true})
	if err == nil || !strings.Contains(err.Error(), "HTTP 401") || strings.Contains(err.Error(), key) {
		t.Errorf("401 with a model: %v", err)
	}
}

// TestRealDNSFailure resolves a name under .invalid (RFC 6761: never
// resolves). Without a resolver, the lookup may fail in other ways; the
// test then only requires that New returns.
func TestRealDNSFailure(t *testing.T) {
	_, err := New(context.Background(), Config{Endpoints: []string{"http://deepconf-test.invalid:8000"}, ConnectTimeout: safeTimeout, SkipPrefill: true})
	if err == nil {
		t.Fatal("no error")
	}
	var dns *net.DNSError
	if errors.As(err, &dns) && !strings.Contains(err.Error(), `DNS lookup of "deepconf-test.invalid" failed`) {
		t.Errorf("error %q", err)
	}
}

// notFoundServer lists two models and answers every generation with
// Ollama's 404 for an unknown model.
func notFoundServer(t *testing.T) string {
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object":"list","data":[{"id":"qwen3:8b","owned_by":"library"},{"id":"llama3:latest","owned_by":"library"}]}`)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"message":"model \"qwen3\" not found, try pulling it first","type":"api_error"}}`)
	}).URL
}

func TestNotFoundListsModels(t *testing.T) {
	want := []string{"HTTP 404 Not Found", `model "qwen3" not found`, "wrong base URL or model name; the server lists the models qwen3:8b, llama3:latest"}
	t.Run("probe", func(t *testing.T) {
		_, err := New(context.Background(), Config{Endpoints: []string{notFoundServer(t)}, Model: "qwen3", SkipPrefill: true})
		if err == nil {
			t.Fatal("no error")
		}
		if miss := lacks(err.Error(), want...); miss != nil {
			t.Errorf("error %q lacks %q", err, miss)
		}
	})
	t.Run("sample without probe", func(t *testing.T) {
		e := newTestEngine(t, Config{Endpoints: []string{notFoundServer(t)}, Model: "qwen3", SkipProbe: true, SkipPrefill: true})
		s := openSession(t, e, engine.Prompt{User: "x"})
		_, err := s.Sample(context.Background(), testSampling, nil)
		if err == nil {
			t.Fatal("no error")
		}
		if miss := lacks(err.Error(), want...); miss != nil {
			t.Errorf("error %q lacks %q", err, miss)
		}
	})
}

func TestWaitLog(t *testing.T) {
	t.Run("rate", func(t *testing.T) {
		var logs bytes.Buffer
		e := newTestEngine(t, Config{Endpoints: []string{"http://gpu1:8000/v1"}, SkipProbe: true, WaitLogInterval: time.Hour,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		for range 5 {
			e.noteWait(e.endpoints[0], stageFirstEvent, 30*time.Second+200*time.Millisecond, DefaultFirstByteTimeout)
		}
		got := logs.String()
		if n := strings.Count(got, "waiting for"); n != 1 {
			t.Errorf("%d lines within one interval, want 1:\n%s", n, got)
		}
		if !strings.Contains(got, "openai: waiting for http://gpu1:8000 (first token) for 30s…") || !strings.Contains(got, "timeout=10m0s") {
			t.Errorf("log %q", got)
		}
	})
	t.Run("while waiting", func(t *testing.T) {
		var mu sync.Mutex
		var logs bytes.Buffer
		lw := writerFunc(func(p []byte) (int, error) {
			mu.Lock()
			defer mu.Unlock()
			return logs.Write(p)
		})
		srv := newServer(t, silent)
		e := newTestEngine(t, Config{Endpoints: []string{srv.URL}, SkipProbe: true, SkipPrefill: true, ConnectTimeout: safeTimeout, FirstByteTimeout: 500 * time.Millisecond,
			WaitLogInterval: 10 * time.Millisecond, Retry: Retry{MaxRetries: -1}, Logger: slog.New(slog.NewTextHandler(lw, nil))})
		s := openSession(t, e, engine.Prompt{User: "x"})
		if _, err := s.Sample(context.Background(), testSampling, nil); err == nil || !strings.Contains(err.Error(), "first-byte timeout") {
			t.Errorf("error %v", err)
		}
		mu.Lock()
		got := logs.String()
		mu.Unlock()
		if !strings.Contains(got, fmt.Sprintf("waiting for %s (response headers) for", srv.URL)) {
			t.Errorf("no waiting line: %q", got)
		}
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
