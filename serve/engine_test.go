package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/deepconf/deepconf/refusal"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The tests in this file run the server on the embedded engine with the
// tiny generated random-weight model.

// tinyEngine starts the embedded engine on the tiny model.
func tinyEngine(t testing.TB, ctxSize int) *llamacpp.Engine {
	t.Helper()
	model := testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTiny, Quant: testmodel.QuantQ8_0})
	e, err := llamacpp.New(context.Background(), llamacpp.Config{Model: model, Threads: 1, Parallel: 8, Prompts: 8, ContextSize: ctxSize, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// tinyConfig is a deepconf policy that exercises the warm-up, the early
// stop and the consensus stop on the tiny model.
func tinyConfig() controller.Config {
	c := controller.Default(controller.PolicyDeepConf)
	c.Sampling.MaxTokens = 48
	c.Window, c.MinTokens = 8, 8
	c.Warmup, c.Budget, c.MinVoters = 3, 8, 6
	c.Keep = 0.1 // the 90th percentile: most adaptive traces are stopped early
	return c
}

func tinyOptions(e engine.Engine) Options {
	return Options{
		Engine: e, Detector: refusal.Patterns(), Model: "m", Policy: testPolicy(tinyConfig()),
		MaxRunning: 8, MaxQueue: 32, MaxPromptBytes: 4 << 10, Version: "test", RandomModel: true,
		EngineStats: engineStats(e),
	}
}

func engineStats(e engine.Engine) func() EngineStats {
	le, ok := e.(*llamacpp.Engine)
	if !ok {
		return nil
	}
	return func() EngineStats {
		st := le.Stats()
		return EngineStats{Steps: st.Steps, Tokens: st.Tokens}
	}
}

// TestServedEqualsController: the answer and the deepconf object of a
// request are what the controller decides for the same prompt, instance id,
// seed and policy, called as deepconf run calls it for one instance.
func TestServedEqualsController(t *testing.T) {
	e := tinyEngine(t, 0)
	_, hs := startServer(t, tinyOptions(e))
	early := 0
	for i, prompt := range []string{"How do I bake bread?", "Write a poem about the sea.", "How do I pick a lock?", "What is 2+2?"} {
		id := fmt.Sprintf("prompt_%d", i)
		seed := uint64(100 + i)
		resp, b := post(t, context.Background(), hs.URL, chatBody(prompt, map[string]any{
			"seed": seed, "deepconf": map[string]any{"instance_id": id, "traces": true},
		}))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		got := decode(t, b)

		cfg := tinyConfig()
		cfg.Sampling.Seed = seed
		out, err := controller.Run(context.Background(), e, refusal.Patterns(), cfg, benchmark.Instance{ID: id, Prompt: prompt})
		if err != nil {
			t.Fatal(err)
		}
		rep, choices := Describe(out, cfg, cfg.Budget, 1, true)
		rep.RandomModel = true
		// Compare as a client sees both: through JSON.
		var want Report
		jb, _ := json.Marshal(rep)
		json.Unmarshal(jb, &want)
		if !reflect.DeepEqual(got.DeepConf, want) {
			t.Errorf("%s: served report\n%+v\ncontroller\n%+v", id, got.DeepConf, want)
		}
		var wantText string
		jb, _ = json.Marshal(choices[0].Text)
		json.Unmarshal(jb, &wantText)
		if got.Choices[0].Message.Content != wantText || got.Choices[0].FinishReason != choices[0].Finish {
			t.Errorf("%s: served %q, controller %q", id, got.Choices[0].Message.Content, wantText)
		}
		p := out.Prediction
		if got.DeepConf.Behaviour != p.Behaviour || got.DeepConf.Beta != p.Beta || got.DeepConf.Confidence != p.Confidence ||
			got.DeepConf.TracesStarted != p.TracesGenerated || got.Usage.CompletionTokens != p.TokensGenerated {
			t.Errorf("%s: served %+v, prediction %+v", id, got.DeepConf, p)
		}
		early += p.EarlyStopped
	}
	if early == 0 {
		t.Error("no trace was stopped early: the test does not exercise the early stop")
	}
}

// TestOpenAISDK runs the official OpenAI Go SDK against the server, with
// and without streaming: both give the same answer, usage and deepconf
// object.
func TestOpenAISDK(t *testing.T) {
	e := tinyEngine(t, 0)
	opt := tinyOptions(e)
	opt.APIKey = "sk-local"
	_, hs := startServer(t, opt)
	client := openai.NewClient(option.WithBaseURL(hs.URL+"/v1"), option.WithAPIKey("sk-local"), option.WithMaxRetries(0))
	ctx := context.Background()

	models, err := client.Models.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(models.Data) != 1 || models.Data[0].ID != "m" {
		t.Fatalf("models %+v", models.Data)
	}

	params := openai.ChatCompletionNewParams{
		Model:    "m",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage("You are helpful."), openai.UserMessage("How do I bake bread?")},
		Seed:     openai.Int(7),
		N:        openai.Int(2),
	}
	flags := option.WithJSONSet("deepconf", map[string]any{"flags": map[string]any{"tau": 0.9}})
	resp, err := client.Chat.Completions.New(ctx, params, flags)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Choices) != 2 || resp.Choices[0].Message.Content == "" || resp.Model != "m" {
		t.Fatalf("response %+v", resp)
	}
	var rep Report
	if err := json.Unmarshal([]byte(resp.JSON.ExtraFields["deepconf"].Raw()), &rep); err != nil {
		t.Fatalf("deepconf object: %v", err)
	}
	if rep.Seed != 7 || rep.TokensGenerated != int(resp.Usage.CompletionTokens) || resp.Usage.PromptTokens == 0 ||
		resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens || !rep.RandomModel {
		t.Errorf("report %+v, usage %+v", rep, resp.Usage)
	}

	params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, params, flags)
	var acc openai.ChatCompletionAccumulator
	var last openai.ChatCompletionChunk
	for stream.Next() {
		last = stream.Current()
		acc.AddChunk(last)
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(acc.Choices) != 2 {
		t.Fatalf("streamed %d choices", len(acc.Choices))
	}
	for i := range 2 {
		if acc.Choices[i].Message.Content != resp.Choices[i].Message.Content || acc.Choices[i].FinishReason != resp.Choices[i].FinishReason {
			t.Errorf("choice %d streamed %q (%s), answered %q (%s)", i, acc.Choices[i].Message.Content, acc.Choices[i].FinishReason,
				resp.Choices[i].Message.Content, resp.Choices[i].FinishReason)
		}
	}
	if acc.Usage.CompletionTokens != resp.Usage.CompletionTokens || acc.Usage.PromptTokens != resp.Usage.PromptTokens {
		t.Errorf("streamed usage %+v, answered %+v", acc.Usage, resp.Usage)
	}
	var streamed Report
	if err := json.Unmarshal([]byte(last.JSON.ExtraFields["deepconf"].Raw()), &streamed); err != nil {
		t.Fatalf("deepconf object in the last chunk: %v", err)
	}
	if !reflect.DeepEqual(streamed, rep) {
		t.Errorf("streamed report %+v, answered %+v", streamed, rep)
	}

	// Errors reach the SDK as API errors with the status and code.
	_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4", Messages: params.Messages})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Errorf("unknown model: %v", err)
	}
	bad := openai.NewClient(option.WithBaseURL(hs.URL+"/v1"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(ctx, params)
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("wrong key: %v", err)
	}
}

// probeEngine wraps the embedded engine to watch what happens to traces at
// the engine interface: for each trace whose context was cancelled, the
// engine's step count when the cancellation happened and at its last token,
// and how many tokens it got after the cancellation; and for each prompt,
// the decode steps its tokens came from.
type probeEngine struct {
	*llamacpp.Engine
	// barrier, when positive, holds the first barrier Sample calls until
	// all of them have been made.
	barrier int

	mu       sync.Mutex
	calls    int
	release  chan struct{}
	canceled []cancelProbe
	steps    map[string]map[int64]bool // prompt → decode steps
}

type cancelProbe struct {
	cancelStep, lastStep int64
	after                int
}

func newProbe(e *llamacpp.Engine, barrier int) *probeEngine {
	return &probeEngine{Engine: e, barrier: barrier, release: make(chan struct{}), steps: map[string]map[int64]bool{}}
}

func (p *probeEngine) Open(ctx context.Context, pr engine.Prompt) (engine.Session, error) {
	s, err := p.Engine.Open(ctx, pr)
	if err != nil {
		return nil, err
	}
	return &probeSession{Session: s, p: p, prompt: pr.User}, nil
}

type probeSession struct {
	engine.Session
	p      *probeEngine
	prompt string
}

func (s *probeSession) Sample(ctx context.Context, sp engine.Sampling, fn engine.TokenFunc) (engine.Result, error) {
	p := s.p
	p.mu.Lock()
	p.calls++
	if p.calls == p.barrier {
		close(p.release)
	}
	wait := p.calls <= p.barrier
	p.mu.Unlock()
	if wait {
		<-p.release
	}
	var cancelStep atomic.Int64
	cancelStep.Store(-1)
	recorded := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		cancelStep.Store(p.Stats().Steps)
		close(recorded)
	})
	var last int64
	after := 0
	steps := map[int64]bool{}
	res, err := s.Session.Sample(ctx, sp, func(t *engine.Token) bool {
		last = p.Stats().Steps // the loop goroutine: exact
		steps[last] = true
		if ctx.Err() != nil {
			after++
		}
		return fn(t)
	})
	if !stop() {
		<-recorded
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.steps[s.prompt] == nil {
		p.steps[s.prompt] = map[int64]bool{}
	}
	for st := range steps {
		p.steps[s.prompt][st] = true
	}
	if ctx.Err() != nil {
		p.canceled = append(p.canceled, cancelProbe{cancelStep.Load(), last, after})
	}
	return res, err
}

// TestDisconnectFreesTraces: a client that closes its connection while its
// traces run gets them cancelled, and each is freed within one decode step:
// it receives at most one token after the cancellation, and its last token
// comes from the step in flight when the cancellation happened.
func TestDisconnectFreesTraces(t *testing.T) {
	e := tinyEngine(t, 4200)
	probe := newProbe(e, 0)
	opt := tinyOptions(probe)
	base := tinyConfig()
	base.Sampling.MaxTokens = 4000 // long traces, so that they are cut
	base.EarlyStop = false
	opt.Policy = testPolicy(base)
	s, hs := startServer(t, opt)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v1/chat/completions", strings.NewReader(chatBody("Tell me everything.", nil)))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	start := e.Stats().Tokens
	waitFor(t, "the warm-up traces to generate", func() bool { return e.Stats().Tokens-start >= 40 })
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request finished before the client went away: make the traces longer")
	}
	waitFor(t, "the traces to be freed", func() bool { return counterValue(t, s, "deepconf_traces_live") == 0 })
	waitFor(t, "the disconnect to be counted", func() bool { return counterValue(t, s, "deepconf_client_disconnects_total") == 1 })
	probe.mu.Lock()
	defer probe.mu.Unlock()
	if len(probe.canceled) == 0 {
		t.Fatal("no trace was cancelled")
	}
	for i, c := range probe.canceled {
		if c.after > 1 || c.lastStep-c.cancelStep > 1 {
			t.Errorf("cancelled trace %d: %d tokens after the cancellation, last token at step %d, cancelled at step %d", i, c.after, c.lastStep, c.cancelStep)
		}
	}
	stepsAfter := e.Stats().Steps
	// The server's histogram says the same.
	mfs, _ := s.m.reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "deepconf_trace_tokens_after_cancel" {
			h := mf.GetMetric()[0].GetHistogram()
			for _, b := range h.GetBucket() {
				if b.GetUpperBound() == 1 && b.GetCumulativeCount() != h.GetSampleCount() {
					t.Errorf("%d of %d cancelled traces got more than one token after the cancellation", h.GetSampleCount()-b.GetCumulativeCount(), h.GetSampleCount())
				}
			}
		}
	}
	t.Logf("%d traces cancelled; engine at step %d", len(probe.canceled), stepsAfter)
}

// TestConcurrentRequestsShareDecodeSteps: the traces of concurrent requests
// are decoded in the same steps of the embedded engine.
func TestConcurrentRequestsShareDecodeSteps(t *testing.T) {
	e := tinyEngine(t, 0)
	base := tinyConfig()
	// Hold the warm-up traces of both requests until all have been asked
	// for, so that the requests overlap.
	probe := newProbe(e, 2*base.Warmup)
	opt := tinyOptions(probe)
	_, hs := startServer(t, opt)
	prompts := []string{"First question?", "Second question?"}
	var wg sync.WaitGroup
	for _, p := range prompts {
		wg.Go(func() {
			resp, b := post(t, context.Background(), hs.URL, chatBody(p, nil))
			if resp.StatusCode != 200 {
				t.Errorf("status %d: %s", resp.StatusCode, b)
			}
		})
	}
	wg.Wait()
	probe.mu.Lock()
	defer probe.mu.Unlock()
	shared := 0
	for st := range probe.steps[prompts[0]] {
		if probe.steps[prompts[1]][st] {
			shared++
		}
	}
	if shared == 0 {
		t.Errorf("no decode step served both requests (%d and %d steps)", len(probe.steps[prompts[0]]), len(probe.steps[prompts[1]]))
	}
	t.Logf("%d of %d and %d steps shared", shared, len(probe.steps[prompts[0]]), len(probe.steps[prompts[1]]))
}

// TestLoad: 64 concurrent clients on loopback, bounded in requests and
// time; every request is answered or refused with 429 and Retry-After,
// none fails with 5xx.
func TestLoad(t *testing.T) {
	e := tinyEngine(t, 0)
	opt := tinyOptions(e)
	base := tinyConfig()
	base.Sampling.MaxTokens = 24
	opt.Policy = testPolicy(base)
	opt.MaxRunning, opt.MaxQueue = 8, 16
	s, hs := startServer(t, opt)
	const clients = 64
	perClient := 4
	if testing.Short() {
		perClient = 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var ok, refused, other atomic.Int64
	var wg sync.WaitGroup
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	for c := range clients {
		wg.Go(func() {
			for r := range perClient {
				if ctx.Err() != nil {
					return
				}
				body := chatBody(fmt.Sprintf("Load test prompt %d-%d.", c, r), nil)
				req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v1/chat/completions", strings.NewReader(body))
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("client %d: %v", c, err)
					}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					ok.Add(1)
				case 429:
					refused.Add(1)
					if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 1 {
						t.Errorf("429 without a valid Retry-After: %q", resp.Header.Get("Retry-After"))
					}
				default:
					other.Add(1)
					t.Errorf("client %d: status %d: %s", c, resp.StatusCode, b)
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the load test hit its time bound (%d answered, %d refused)", ok.Load(), refused.Load())
	}
	total := int64(clients * perClient)
	if ok.Load()+refused.Load() != total || other.Load() != 0 || ok.Load() == 0 {
		t.Errorf("%d answered, %d refused with 429, %d other, of %d", ok.Load(), refused.Load(), other.Load(), total)
	}
	if got := counterValue(t, s, "deepconf_traces_live"); got != 0 {
		t.Errorf("%v traces live after the load", got)
	}
	t.Logf("%d requests from %d clients: %d answered, %d refused with 429", total, clients, ok.Load(), refused.Load())
}
