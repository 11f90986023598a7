package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/record"
)

// TestErrors checks the OpenAI-style errors: status, type, param and code.
func TestErrors(t *testing.T) {
	e := newEngine(constantReply("Sure, here you go.", 1))
	_, hs := startServer(t, testOptions(e))
	long := strings.Repeat("x", 1<<10+1)
	for _, tc := range []struct {
		name   string
		body   string
		status int
		param  string
		code   string
	}{
		{"unknown model", `{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}`, 404, "model", "model_not_found"},
		{"missing model", `{"messages":[{"role":"user","content":"hi"}]}`, 400, "model", ""},
		{"malformed JSON", `{"model":"m","messages":[`, 400, "", ""},
		{"not an object", `[1,2]`, 400, "", ""},
		{"trailing data", `{"model":"m","messages":[{"role":"user","content":"hi"}]} x`, 400, "", ""},
		{"wrong type", `{"model":"m","n":"two","messages":[{"role":"user","content":"hi"}]}`, 400, "n", ""},
		{"missing messages", `{"model":"m"}`, 400, "messages", ""},
		{"empty messages", `{"model":"m","messages":[]}`, 400, "messages", ""},
		{"no user message", `{"model":"m","messages":[{"role":"system","content":"be nice"}]}`, 400, "messages", ""},
		{"empty user message", `{"model":"m","messages":[{"role":"user","content":"  "}]}`, 400, "messages", ""},
		{"two user messages", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":"b"}]}`, 400, "messages", ""},
		{"assistant turn", `{"model":"m","messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`, 400, "messages[1].role", ""},
		{"image part", `{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}`, 400, "messages[0].content", ""},
		{"n above budget", `{"model":"m","n":9,"messages":[{"role":"user","content":"hi"}]}`, 400, "n", ""},
		{"n zero", `{"model":"m","n":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "n", ""},
		{"negative seed", `{"model":"m","seed":-1,"messages":[{"role":"user","content":"hi"}]}`, 400, "seed", ""},
		{"max_tokens zero", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, 400, "max_tokens", ""},
		{"oversize prompt", chatBody(long, nil), 400, "messages", "context_length_exceeded"},
		{"body too large", chatBody(strings.Repeat("x", 8<<10), map[string]any{"pad": strings.Repeat("y", 80<<10)}), 413, "", "request_too_large"},
		{"unknown flag", chatBody("hi", map[string]any{"deepconf": map[string]any{"flags": map[string]any{"bogus": 1}}}), 400, "deepconf.flags", ""},
		{"flag out of range", chatBody("hi", map[string]any{"deepconf": map[string]any{"flags": map[string]any{"tau": 2}}}), 400, "deepconf.flags", ""},
		{"flag of a wrong type", chatBody("hi", map[string]any{"deepconf": map[string]any{"flags": map[string]any{"tau": []int{1}}}}), 400, "deepconf.flags.tau", ""},
		{"max-tokens above the server's", chatBody("hi", map[string]any{"deepconf": map[string]any{"flags": map[string]any{"max-tokens": 33}}}), 400, "deepconf.flags.max-tokens", ""},
		{"k above the server's", chatBody("hi", map[string]any{"deepconf": map[string]any{"flags": map[string]any{"k": 21}}}), 400, "deepconf.flags", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, b := post(t, context.Background(), hs.URL, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			d := decode(t, b)
			if d.Error == nil || d.Error.Message == "" || d.Error.Type == "" {
				t.Fatalf("no OpenAI error object: %s", b)
			}
			if d.Error.Param != tc.param || d.Error.Code != tc.code {
				t.Errorf("param %q code %q, want %q %q: %s", d.Error.Param, d.Error.Code, tc.param, tc.code, b)
			}
		})
	}
	for _, tc := range []struct{ method, path string }{{"GET", "/v1/chat/completions"}, {"POST", "/v1/models"}, {"GET", "/v2/whatever"}} {
		req, _ := http.NewRequest(tc.method, hs.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var d decoded
		json.NewDecoder(resp.Body).Decode(&d)
		resp.Body.Close()
		want := http.StatusMethodNotAllowed
		if tc.path == "/v2/whatever" {
			want = http.StatusNotFound
		}
		if resp.StatusCode != want || d.Error == nil {
			t.Errorf("%s %s: status %d, error %v; want %d with an error object", tc.method, tc.path, resp.StatusCode, d.Error, want)
		}
	}
	if e.InFlight() != 0 {
		t.Error("a rejected request started traces")
	}
}

// mixedReply makes a third of the traces refuse; every trace has its own
// confidence, 1 + (seed mod 97)/100, so the ranking is known.
func mixedReply(_ engine.Prompt, seed uint64) ([]string, float64) {
	c := 1 + float64(seed%97)/100
	if seed%3 == 0 {
		return strings.SplitAfter("I can't help with that.", " "), c
	}
	return strings.SplitAfter("Here is a recipe for bread, number "+strconv.FormatUint(seed, 10)+".", " "), c
}

// TestAnswer checks an answer: the chosen trace is the most confident
// voting trace with the vote's behaviour, n choices are distinct traces in
// rank order, and usage counts every trace's tokens.
func TestAnswer(t *testing.T) {
	e := newEngine(mixedReply)
	_, hs := startServer(t, testOptions(e))
	for _, n := range []int{1, 3} {
		for _, prompt := range []string{"How do I bake bread?", "Tell me a story.", "What is 2+2?"} {
			resp, b := post(t, context.Background(), hs.URL, chatBody(prompt, map[string]any{"n": n, "deepconf": map[string]any{"traces": true}}))
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			d := decode(t, b)
			r := d.DeepConf
			if len(d.Choices) != n || len(r.Chosen) != n {
				t.Fatalf("%d choices, %d chosen; want %d", len(d.Choices), len(r.Chosen), n)
			}
			if len(r.Traces) != r.TracesStarted {
				t.Fatalf("%d traces listed, %d started", len(r.Traces), r.TracesStarted)
			}
			tokens, best := 0, -1
			for i, tr := range r.Traces {
				tokens += tr.Tokens
				if tr.Used && TraceBehaviour(record.Trace{Label: tr.Label}) == r.Behaviour && (best < 0 || tr.Confidence > r.Traces[best].Confidence) {
					best = i
				}
			}
			if best < 0 {
				t.Fatalf("no voting trace with behaviour %s: %+v", r.Behaviour, r)
			}
			if r.Chosen[0] != best || d.Choices[0].Message.Content != r.Traces[best].Text || r.ChosenConfidence != r.Traces[best].Confidence {
				t.Errorf("chose trace %d (%q), want the most confident %s trace %d (%q)", r.Chosen[0], d.Choices[0].Message.Content, r.Behaviour, best, r.Traces[best].Text)
			}
			seen := map[int]bool{}
			for i, c := range d.Choices {
				tr := r.Traces[r.Chosen[i]]
				if seen[tr.Index] || c.Message.Content != tr.Text || c.FinishReason != tr.Finish || c.Index != i || c.Message.Role != "assistant" {
					t.Errorf("choice %d = %+v, trace %+v", i, c, tr)
				}
				seen[tr.Index] = true
			}
			if d.Usage.CompletionTokens != tokens || r.TokensGenerated != tokens {
				t.Errorf("usage %+v, tokens_generated %d; the traces have %d tokens", d.Usage, r.TokensGenerated, tokens)
			}
			if d.Usage.PromptTokens != len(strings.Fields(prompt)) || d.Usage.TotalTokens != d.Usage.PromptTokens+tokens {
				t.Errorf("usage %+v for a prompt of %d words", d.Usage, len(strings.Fields(prompt)))
			}
			if r.TokensSaved != r.TokensBaseline-r.TokensGenerated || r.MaxTraces != 8 || r.Policy != "deepconf" {
				t.Errorf("report %+v", r)
			}
		}
	}
}

// TestSystemAndParts: the system message reaches the engine, text parts are
// joined, and the same prompt gets the same answer.
func TestSystemAndParts(t *testing.T) {
	var mu sync.Mutex
	var prompts []engine.Prompt
	e := newEngine(func(p engine.Prompt, seed uint64) ([]string, float64) {
		mu.Lock()
		prompts = append(prompts, p)
		mu.Unlock()
		return mixedReply(p, seed)
	})
	_, hs := startServer(t, testOptions(e))
	body := `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"How do I "},{"type":"text","text":"bake bread?"}]}]}`
	_, b1 := post(t, context.Background(), hs.URL, body)
	_, b2 := post(t, context.Background(), hs.URL, body)
	d1, d2 := decode(t, b1), decode(t, b2)
	if d1.Choices[0].Message.Content != d2.Choices[0].Message.Content || d1.DeepConf.InstanceID != d2.DeepConf.InstanceID {
		t.Errorf("the same request gave different answers: %s / %s", b1, b2)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range prompts {
		if p.System != "Be brief." || p.User != "How do I bake bread?" {
			t.Fatalf("engine got %+v", p)
		}
	}
}

// TestAuth: /v1 needs the bearer key, /healthz and /metrics do not, and the
// key appears in no log.
func TestAuth(t *testing.T) {
	const key = "sk-test-0123456789"
	var logBuf, gateBuf syncBuffer
	opt := testOptions(newEngine(mixedReply))
	opt.APIKey = key
	opt.Log = slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opt.Gate = Gate{Mode: GateFlag, Threshold: 1.5, Source: "test"}
	opt.GateLog = &gateBuf
	_, hs := startServer(t, opt)
	body := chatBody("hi there", nil)
	for _, tc := range []struct {
		header string
		status int
	}{
		{"", 401}, {"Bearer wrong", 401}, {"Bearer " + key + "x", 401}, {key, 401}, {"Basic " + key, 401}, {"Bearer " + key, 200},
	} {
		var h []string
		if tc.header != "" {
			h = []string{"Authorization", tc.header}
		}
		resp, b := post(t, context.Background(), hs.URL, body, h...)
		if resp.StatusCode != tc.status {
			t.Errorf("Authorization %q: status %d, want %d: %s", tc.header, resp.StatusCode, tc.status, b)
		}
		if tc.status == 401 && decode(t, b).Error.Code != "invalid_api_key" {
			t.Errorf("401 without invalid_api_key: %s", b)
		}
	}
	for path, want := range map[string]int{"/v1/models": 401, "/healthz": 200, "/metrics": 200} {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET %s without a key: %d, want %d", path, resp.StatusCode, want)
		}
	}
	for name, log := range map[string]string{"server log": logBuf.String(), "gate log": gateBuf.String()} {
		if strings.Contains(log, key) || strings.Contains(log, "hi there") {
			t.Errorf("the %s holds the key or the prompt:\n%s", name, log)
		}
	}
	if !strings.Contains(logBuf.String(), "answered") || gateBuf.String() == "" {
		t.Errorf("nothing logged: %q / %q", logBuf.String(), gateBuf.String())
	}
}

// TestModelsHealthMetrics checks the GET endpoints.
func TestModelsHealthMetrics(t *testing.T) {
	_, hs := startServer(t, testOptions(newEngine(mixedReply)))
	post(t, context.Background(), hs.URL, chatBody("hi", nil))
	get := func(path string) (int, string) {
		resp, err := http.Get(hs.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String()
	}
	if code, b := get("/v1/models"); code != 200 || !strings.Contains(b, `"id":"m"`) || !strings.Contains(b, `"object":"list"`) {
		t.Errorf("/v1/models: %d %s", code, b)
	}
	if code, b := get("/v1/models/m"); code != 200 || !strings.Contains(b, `"id":"m"`) {
		t.Errorf("/v1/models/m: %d %s", code, b)
	}
	if code, _ := get("/v1/models/other"); code != 404 {
		t.Errorf("/v1/models/other: %d", code)
	}
	if code, b := get("/healthz"); code != 200 || !strings.Contains(b, `"status":"ok"`) {
		t.Errorf("/healthz: %d %s", code, b)
	}
	code, b := get("/metrics")
	for _, m := range []string{
		`deepconf_http_requests_total{code="200",path="/v1/chat/completions"} 1`,
		"deepconf_traces_started_total", "deepconf_generated_tokens_total", "deepconf_queue_length 0",
		`deepconf_answers_total{behaviour=`, "deepconf_traces_live 0", "go_goroutines",
	} {
		if code != 200 || !strings.Contains(b, m) {
			t.Errorf("/metrics lacks %q", m)
		}
	}
}

// TestQueueFull: with every slot taken and the queue full, a request gets
// 429 with Retry-After at once; the others are answered.
func TestQueueFull(t *testing.T) {
	e := newEngine(mixedReply)
	block := make(chan struct{})
	e.Hold = block
	opt := testOptions(e)
	opt.MaxRunning, opt.MaxQueue = 1, 1
	s, hs := startServer(t, opt)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Go(func() {
			resp, _ := post(t, context.Background(), hs.URL, chatBody("hi "+strconv.Itoa(i), nil))
			codes[i] = resp.StatusCode
		})
		if i == 0 {
			waitFor(t, "the first request to run", func() bool { return s.adm.running() == 1 })
		}
	}
	waitFor(t, "the second request to queue", func() bool { return s.adm.queued() == 1 })
	resp, b := post(t, context.Background(), hs.URL, chatBody("one too many", nil))
	if resp.StatusCode != 429 {
		t.Fatalf("status %d, want 429: %s", resp.StatusCode, b)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if d := decode(t, b); d.Error.Code != "rate_limit_exceeded" {
		t.Errorf("429 body %s", b)
	}
	close(block)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Errorf("the admitted requests got %v", codes)
	}
}

// TestDeadline: a request that is not answered within Timeout gets 504 and
// its traces are cancelled.
func TestDeadline(t *testing.T) {
	e := newEngine(mixedReply)
	block := make(chan struct{})
	e.Hold = block
	defer close(block)
	opt := testOptions(e)
	opt.Timeout = 100 * time.Millisecond
	_, hs := startServer(t, opt)
	resp, b := post(t, context.Background(), hs.URL, chatBody("hi", nil))
	if resp.StatusCode != 504 || decode(t, b).Error.Type != "timeout" {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	waitFor(t, "the traces to end", func() bool { return e.InFlight() == 0 })
	if e.Cancelled() == 0 {
		t.Error("no trace was cancelled")
	}
}

// TestDisconnect: a client that goes away cancels its traces.
func TestDisconnect(t *testing.T) {
	e := newEngine(mixedReply)
	block := make(chan struct{})
	e.Hold = block
	defer close(block)
	s, hs := startServer(t, testOptions(e))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v1/chat/completions", strings.NewReader(chatBody("hi", nil)))
		_, err := http.DefaultClient.Do(req)
		done <- err
	}()
	waitFor(t, "the warm-up traces to start", func() bool { return e.InFlight() == 4 })
	cancel()
	<-done
	waitFor(t, "the traces to end", func() bool { return e.InFlight() == 0 })
	if e.Cancelled() != 4 {
		t.Errorf("%d traces cancelled, want 4", e.Cancelled())
	}
	waitFor(t, "the disconnect to be counted", func() bool { return counterValue(t, s, "deepconf_client_disconnects_total") == 1 })
}

// counterValue reads a metric without labels from the server's registry.
func counterValue(t *testing.T, s *Server, name string) float64 {
	t.Helper()
	mfs, err := s.m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// sseEvents reads a server-sent event stream into its data payloads.
func sseEvents(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			t.Fatalf("line %q is not a data line", line)
		}
		out = append(out, data)
	}
	return out
}

// TestStream checks the event stream: role, content and finish chunks per
// choice, the deepconf object in the last chunk (with usage when asked),
// then [DONE]; the content equals the non-streaming answer.
func TestStream(t *testing.T) {
	_, hs := startServer(t, testOptions(newEngine(mixedReply)))
	_, plain := post(t, context.Background(), hs.URL, chatBody("bread?", map[string]any{"n": 2}))
	want := decode(t, plain)
	for _, usageOpt := range []bool{false, true} {
		extra := map[string]any{"n": 2, "stream": true}
		if usageOpt {
			extra["stream_options"] = map[string]any{"include_usage": true}
		}
		resp, b := post(t, context.Background(), hs.URL, chatBody("bread?", extra))
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		ev := sseEvents(t, b)
		if ev[len(ev)-1] != "[DONE]" {
			t.Fatalf("stream does not end with [DONE]: %q", ev)
		}
		ev = ev[:len(ev)-1]
		content := map[int]string{}
		finish := map[int]string{}
		var last chunk
		for i, e := range ev {
			var c chunk
			if err := json.Unmarshal([]byte(e), &c); err != nil {
				t.Fatal(err)
			}
			if c.Object != "chat.completion.chunk" || c.Model != "m" {
				t.Errorf("chunk %d: %s", i, e)
			}
			if (c.DeepConf != nil) != (i == len(ev)-1) {
				t.Errorf("chunk %d of %d has deepconf %v", i, len(ev), c.DeepConf != nil)
			}
			for _, ch := range c.Choices {
				if ch.Delta.Content != nil {
					content[ch.Index] += *ch.Delta.Content
				}
				if ch.FinishReason != nil {
					finish[ch.Index] = *ch.FinishReason
				}
			}
			last = c
		}
		for i, ch := range want.Choices {
			if content[i] != ch.Message.Content || finish[i] != ch.FinishReason {
				t.Errorf("choice %d streamed %q (%s), answered %q (%s)", i, content[i], finish[i], ch.Message.Content, ch.FinishReason)
			}
		}
		if usageOpt {
			if last.Usage == nil || *last.Usage != want.Usage || len(last.Choices) != 0 {
				t.Errorf("usage chunk %+v, want usage %+v", last, want.Usage)
			}
		} else if last.Usage != nil {
			t.Error("usage sent without include_usage")
		}
		if last.DeepConf.Behaviour != want.DeepConf.Behaviour || last.DeepConf.Confidence != want.DeepConf.Confidence {
			t.Errorf("streamed report %+v, answered %+v", last.DeepConf, want.DeepConf)
		}
	}
}

// TestGate checks flag and refuse on a compliance below and above the
// threshold and on a refusal, the header, the report and the log.
func TestGate(t *testing.T) {
	comply := constantReply("Sure, here is how to do it.", 2)
	refuse := constantReply("I can't help with that.", 0.5)
	for _, tc := range []struct {
		name      string
		mode      string
		reply     func(engine.Prompt, uint64) ([]string, float64)
		threshold float64
		verdict   string
		action    string
		prompts   bool
	}{
		{"flag low compliance", GateFlag, comply, 2.5, VerdictLowConfidence, ActionFlagged, false},
		{"flag confident compliance", GateFlag, comply, 2, VerdictPass, ActionNone, false},
		{"refuse low compliance", GateRefuse, comply, 2.5, VerdictLowConfidence, ActionRefused, true},
		{"refuse leaves refusals alone", GateRefuse, refuse, 2.5, VerdictPass, ActionNone, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var glog syncBuffer
			opt := testOptions(newEngine(tc.reply))
			opt.Gate = Gate{Mode: tc.mode, Threshold: tc.threshold, Source: "test", Message: "No."}
			opt.GateLog, opt.LogPrompts = &glog, tc.prompts
			_, hs := startServer(t, opt)
			resp, b := post(t, context.Background(), hs.URL, chatBody("secret prompt", map[string]any{"deepconf": map[string]any{"traces": true}}))
			d := decode(t, b)
			if resp.Header.Get(GateHeader) != tc.verdict {
				t.Errorf("header %q, want %q", resp.Header.Get(GateHeader), tc.verdict)
			}
			g := d.DeepConf.Gate
			if g == nil || g.Verdict != tc.verdict || g.Action != tc.action || g.Threshold != tc.threshold || g.Mode != tc.mode {
				t.Fatalf("gate %+v", g)
			}
			replaced := tc.action == ActionRefused
			if (d.Choices[0].Message.Content == "No.") != replaced {
				t.Errorf("content %q (replaced: %v)", d.Choices[0].Message.Content, replaced)
			}
			for _, tr := range d.DeepConf.Traces {
				if (tr.Text == "") != replaced {
					t.Errorf("trace text %q with action %s", tr.Text, tc.action)
				}
			}
			var e gateEntry
			if err := json.Unmarshal([]byte(glog.String()), &e); err != nil {
				t.Fatalf("gate log %q: %v", glog.String(), err)
			}
			if e.Verdict != tc.verdict || e.Action != tc.action || e.PromptSHA256 == "" || e.Confidence != d.DeepConf.Confidence {
				t.Errorf("log entry %+v", e)
			}
			if strings.Contains(glog.String(), "secret prompt") != tc.prompts {
				t.Errorf("prompt in the log: %v, --log-prompts %v", strings.Contains(glog.String(), "secret prompt"), tc.prompts)
			}
			if tc.prompts && !strings.Contains(glog.String(), "Sure, here is how") {
				t.Error("the log lacks the original answer")
			}
		})
	}
	// A request that computes confidence on another scale is refused.
	opt := testOptions(newEngine(comply))
	opt.Gate = Gate{Mode: GateFlag, Threshold: 1, Source: "test"}
	_, hs := startServer(t, opt)
	resp, b := post(t, context.Background(), hs.URL, chatBody("hi", map[string]any{"deepconf": map[string]any{"flags": map[string]any{"metric": "lowest_group"}}}))
	if resp.StatusCode != 400 || !strings.Contains(string(b), "scale") {
		t.Errorf("metric override under a gate: %d %s", resp.StatusCode, b)
	}
}

// TestDrain: when Serve's context ends, a request in flight is answered,
// new connections are refused, and Serve returns; past the drain timeout
// the request is cancelled with 503.
func TestDrain(t *testing.T) {
	for _, finish := range []bool{true, false} {
		e := newEngine(mixedReply)
		block := make(chan struct{})
		e.Hold = block
		s, err := New(testOptions(e))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		url := "http://" + ln.Addr().String()
		ctx, stop := context.WithCancel(context.Background())
		drain := time.Minute
		if !finish {
			drain = 50 * time.Millisecond
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ctx, ln, drain) }()
		type result struct {
			code int
			body []byte
		}
		got := make(chan result, 1)
		go func() {
			resp, err := http.Post(url+"/v1/chat/completions", "application/json", strings.NewReader(chatBody("hi", nil)))
			if err != nil {
				got <- result{0, []byte(err.Error())}
				return
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			got <- result{resp.StatusCode, b.Bytes()}
		}()
		waitFor(t, "the request to run", func() bool { return e.InFlight() > 0 })
		stop()
		waitFor(t, "the drain to start", func() bool { return s.draining.Load() })
		if finish {
			waitFor(t, "the listener to close", func() bool {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err == nil {
					c.Close()
				}
				return err != nil
			})
			close(block)
			r := <-got
			if r.code != 200 {
				t.Errorf("request in flight during the drain: %d %s", r.code, r.body)
			}
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		} else {
			r := <-got
			if r.code != 503 {
				t.Errorf("request cut by the drain timeout: %d %s", r.code, r.body)
			}
			if err := <-served; err == nil || !strings.Contains(err.Error(), "drain timed out") {
				t.Errorf("Serve: %v", err)
			}
			close(block)
		}
	}
}

// TestEngineErrors: a prompt the engine's context cannot hold is the
// client's error (400 context_length_exceeded); another engine failure is
// the server's (500).
func TestEngineErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("prompt of 9000 tokens: %w", engine.ErrContextOverflow), 400, "context_length_exceeded"},
		{errors.New("llama.cpp decode failed"), 500, ""},
	} {
		e := newEngine(mixedReply)
		e.OpenErr = tc.err
		_, hs := startServer(t, testOptions(e))
		resp, b := post(t, context.Background(), hs.URL, chatBody("hi", nil))
		d := decode(t, b)
		if resp.StatusCode != tc.status || d.Error == nil || d.Error.Code != tc.code || !strings.Contains(d.Error.Message, tc.err.Error()) {
			t.Errorf("%v: status %d, %s", tc.err, resp.StatusCode, b)
		}
	}
}
