package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
)

// testSampling is the sampling used by most tests.
var testSampling = engine.Sampling{Temperature: 0.6, TopP: 0.95, TopK: 20, MaxTokens: 64, Seed: 7, TopLogprobs: 3}

// sleepRecorder replaces Config.Sleep: it records the delays and does not
// wait.
type sleepRecorder struct {
	mu     sync.Mutex
	delays []time.Duration
}

func (r *sleepRecorder) sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.delays = append(r.delays, d)
	r.mu.Unlock()
	return ctx.Err()
}

func (r *sleepRecorder) get() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.delays)
}

// newTestEngine creates an engine for cfg (model "test-model" unless set)
// and closes it at the end of the test.
func newTestEngine(t *testing.T, cfg Config) *Engine {
	t.Helper()
	if cfg.Model == "" {
		cfg.Model = "test-model"
	}
	e, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// openSession opens a session on e.
func openSession(t *testing.T, e *Engine, p engine.Prompt) engine.Session {
	t.Helper()
	s, err := e.Open(context.Background(), p)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// collector is a TokenFunc that copies every token.
type collector struct {
	toks []engine.Token
	stop int // return false at this many tokens (0: never)
}

func (c *collector) fn(t *engine.Token) bool {
	cp := *t
	cp.TopLogprobs = slices.Clone(t.TopLogprobs)
	cp.TopIDs = slices.Clone(t.TopIDs)
	c.toks = append(c.toks, cp)
	return c.stop == 0 || len(c.toks) < c.stop
}

// chatChunk returns a chat-layout chunk with one token entry whose top list
// is tops (the first one being the sampled token's own value).
func chatChunk(text string, lp float64, tops ...float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":%q},"logprobs":{"content":[{"token":%q,"logprob":%v,"top_logprobs":[`, text, text, jsonNum(lp))
	for i, v := range tops {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"token":"t%d","logprob":%v}`, i, jsonNum(v))
	}
	b.WriteString(`]}]},"finish_reason":null}]}`)
	return b.String()
}

func jsonNum(v float64) string {
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(out)
}

// finishChunk and usageChunk end a chat stream.
func finishChunk(reason string) string {
	return fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":%q}]}`, reason)
}

func usageChunk(prompt, completion int) string {
	return fmt.Sprintf(`{"id":"c","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d}}`, prompt, completion, prompt+completion)
}

// tokens returns n token chunks "w0", "w1", … with three top logprobs.
func tokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = chatChunk(fmt.Sprintf("w%d", i), -0.5, -0.5, -1.5, -2.5)
	}
	return out
}

// writeEvents writes SSE events and flushes after each.
func writeEvents(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	f, _ := w.(http.Flusher)
	for _, ev := range events {
		fmt.Fprintf(w, "data: %s\n\n", ev)
		if f != nil {
			f.Flush()
		}
	}
}

// completeStream is a normal stream of n tokens.
func completeStream(n int) []string {
	return append(tokens(n), finishChunk("stop"), usageChunk(10, n), "[DONE]")
}

// newServer starts an httptest server.
func newServer(t testing.TB, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// qwen3Template returns Qwen3's chat template (package chat).
func qwen3Template(t testing.TB) *chat.Template {
	t.Helper()
	tmpl, err := chat.Builtin("qwen3")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// renderQwen3 renders p with Qwen3's chat template.
func renderQwen3(t testing.TB, p engine.Prompt) string {
	t.Helper()
	s, err := qwen3Template(t).Render(p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
