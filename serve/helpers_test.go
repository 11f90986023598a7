package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/refusal"
)

// newEngine returns the scripted engine of this package's tests
// (enginetest.Engine): every trace of a prompt emits the words reply
// returns, each with the confidence conf (all top-k log-probabilities −conf,
// so the token confidence is conf), and a prompt counts one token per word.
func newEngine(reply func(p engine.Prompt, seed uint64) (words []string, conf float64)) *enginetest.Engine {
	return &enginetest.Engine{
		Name:        "fake",
		PromptCount: func(p engine.Prompt) int { return len(strings.Fields(p.System + " " + p.User)) },
		Script: func(c enginetest.Call) (enginetest.Trace, error) {
			words, conf := reply(c.Prompt, c.Sampling.Seed)
			top := make([]float64, c.Sampling.TopLogprobs)
			for i := range top {
				top[i] = -conf
			}
			var tr enginetest.Trace
			for _, w := range words {
				tr.Tokens = append(tr.Tokens, enginetest.Token{ID: -1, Text: w, Logprob: -conf, Top: top})
			}
			return tr, nil
		},
	}
}

// constantReply answers every trace with text at confidence c.
func constantReply(text string, c float64) func(engine.Prompt, uint64) ([]string, float64) {
	return func(engine.Prompt, uint64) ([]string, float64) { return strings.SplitAfter(text, " "), c }
}

// testPolicy is a small PolicyFunc over base for tests of this package; the
// command's policy function (run's flags) is tested in cmd/deepconf.
func testPolicy(base controller.Config) PolicyFunc {
	return func(o map[string]any) (Policy, error) {
		c := base
		for k, v := range o {
			s := fmt.Sprint(v)
			var err error
			switch k {
			case "seed":
				c.Sampling.Seed, err = strconv.ParseUint(s, 10, 64)
			case "max-tokens":
				c.Sampling.MaxTokens, err = strconv.Atoi(s)
			case "max-traces":
				c.Budget, err = strconv.Atoi(s)
			case "k":
				c.Sampling.TopLogprobs, err = strconv.Atoi(s)
			case "tau":
				c.Tau, err = strconv.ParseFloat(s, 64)
			case "metric":
				c.Metric = s
			case "system":
				c.System = s
			default:
				return Policy{}, fmt.Errorf("unknown policy flag %q", k)
			}
			if err != nil {
				return Policy{}, fmt.Errorf("%s: %w", k, err)
			}
		}
		return Policy{Config: c, MaxTraces: c.Budget}, c.Validate()
	}
}

// testConfig is the deepconf policy with small numbers for the fake engine.
func testConfig() controller.Config {
	c := controller.Default(controller.PolicyDeepConf)
	c.Sampling.MaxTokens = 32
	c.Window, c.MinTokens = 4, 4
	c.Budget = 8
	return c
}

// testOptions returns options for a server on e with the test policy.
func testOptions(e engine.Engine) Options {
	return Options{
		Engine: e, Detector: refusal.Patterns(), Model: "m", Policy: testPolicy(testConfig()),
		MaxRunning: 4, MaxQueue: 4, MaxPromptBytes: 1 << 10, Version: "test",
	}
}

// startServer serves opt on a loopback test server.
func startServer(t *testing.T, opt Options) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

// post sends a chat-completions request body and returns the response and
// its body.
func post(t *testing.T, ctx context.Context, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// chatBody returns a request body for one user message with extra fields.
func chatBody(user string, extra map[string]any) string {
	m := map[string]any{"model": "m", "messages": []map[string]any{{"role": "user", "content": user}}}
	for k, v := range extra {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// decoded is a non-streaming response as a client sees it.
type decoded struct {
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage    usage  `json:"usage"`
	DeepConf Report `json:"deepconf"`
	Error    *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
		Param   string `json:"param"`
		Code    string `json:"code"`
	} `json:"error"`
}

func decode(t *testing.T, b []byte) decoded {
	t.Helper()
	var d decoded
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return d
}

// waitFor polls cond until it holds or 30 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
