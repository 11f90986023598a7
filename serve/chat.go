package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
)

// statusClientClosed is recorded (nginx's convention) for a request whose
// client went away before the answer; nothing reaches the client.
const statusClientClosed = 499

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type completionChoice struct {
	Index        int       `json:"index"`
	Message      message   `json:"message"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason string    `json:"finish_reason"`
}

type completion struct {
	ID                string             `json:"id"`
	Object            string             `json:"object"`
	Created           int64              `json:"created"`
	Model             string             `json:"model"`
	SystemFingerprint string             `json:"system_fingerprint"`
	Choices           []completionChoice `json:"choices"`
	Usage             usage              `json:"usage"`
	DeepConf          *Report            `json:"deepconf"`
}

type delta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

type chunkChoice struct {
	Index        int       `json:"index"`
	Delta        delta     `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type chunk struct {
	ID                string        `json:"id"`
	Object            string        `json:"object"`
	Created           int64         `json:"created"`
	Model             string        `json:"model"`
	SystemFingerprint string        `json:"system_fingerprint"`
	Choices           []chunkChoice `json:"choices"`
	Usage             *usage        `json:"usage,omitempty"`
	DeepConf          *Report       `json:"deepconf,omitempty"`
}

// answer is a decided request, ready to be written.
type answer struct {
	id      string
	created int64
	choices []Choice
	report  Report
	usage   usage
}

// chat answers POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	arrival := time.Now()
	id := "chatcmpl-" + newID()
	w.Header().Set("X-Request-Id", id)
	p, e := parseRequest(r, s.opt.Model, s.opt.MaxPromptBytes)
	if e != nil {
		writeError(w, e)
		return
	}
	pol, e := s.policy(p)
	if e != nil {
		writeError(w, e)
		return
	}
	ctx := r.Context()
	if s.opt.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, arrival.Add(s.opt.Timeout))
		defer cancel()
	}
	release, err := s.adm.acquire(ctx)
	if err != nil {
		if errors.Is(err, errQueueFull) {
			writeError(w, &apiError{Status: http.StatusTooManyRequests, Type: typeRateLimit, Code: "rate_limit_exceeded", RetryAfter: s.adm.retryAfter(),
				Message: fmt.Sprintf("the server is busy: %d requests running and %d queued; retry after the Retry-After delay", s.adm.running(), s.adm.queued())})
			return
		}
		s.contextEnded(w, r, ctx, id, arrival)
		return
	}
	defer release()

	eng := &meteredEngine{Engine: s.opt.Engine, m: s.m}
	out, err := controller.Run(ctx, eng, s.opt.Detector, pol.Config, benchmark.Instance{ID: p.instance, Prompt: p.user})
	if err != nil {
		switch {
		case ctx.Err() != nil:
			s.contextEnded(w, r, ctx, id, arrival)
		case errors.Is(err, engine.ErrContextOverflow):
			writeError(w, &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Param: "messages", Code: "context_length_exceeded", Message: err.Error()})
		default:
			s.log.Error("request failed", "id", id, "err", err)
			writeError(w, &apiError{Status: http.StatusInternalServerError, Type: typeServer, Message: "sampling failed: " + err.Error()})
		}
		return
	}
	withTraces := p.req.DeepConf != nil && p.req.DeepConf.Traces
	rep, choices := Describe(out, pol.Config, pol.MaxTraces, p.n, withTraces)
	if len(choices) == 0 {
		writeError(w, &apiError{Status: http.StatusInternalServerError, Type: typeServer,
			Message: fmt.Sprintf("none of the %d traces finished, so there is no answer", len(out.Traces))})
		return
	}
	rep.RandomModel = s.opt.RandomModel
	rep.Gate = s.opt.Gate.decide(rep)
	original := choices[0].Text
	if rep.Gate != nil && rep.Gate.Action == ActionRefused {
		for i := range choices {
			choices[i].Text, choices[i].Finish = s.opt.Gate.Message, "stop"
		}
		for i := range rep.Traces {
			rep.Traces[i].Text = ""
		}
	}
	if err := s.gateLog.write(id, s.opt.Model, p, rep, original); err != nil {
		s.log.Error("gate log", "err", err)
	}
	a := answer{id: id, created: time.Now().Unix(), choices: choices, report: rep}
	a.usage.PromptTokens = int(eng.promptTokens.Load())
	a.usage.CompletionTokens = rep.TokensGenerated
	a.usage.TotalTokens = a.usage.PromptTokens + a.usage.CompletionTokens
	s.account(a)
	if rep.Gate != nil {
		w.Header().Set(GateHeader, rep.Gate.Verdict)
	}
	if p.req.Stream {
		s.stream(w, a, p.req.StreamOptions != nil && p.req.StreamOptions.IncludeUsage)
	} else {
		s.complete(w, a)
	}
	s.m.duration.Observe(time.Since(arrival).Seconds())
	attrs := []any{"id", id, "ms", time.Since(arrival).Milliseconds(), "instance", rep.InstanceID, "behaviour", rep.Behaviour,
		"confidence", rep.Confidence, "traces", rep.TracesStarted, "tokens", rep.TokensGenerated}
	if rep.Gate != nil {
		attrs = append(attrs, "gate", rep.Gate.Verdict)
	}
	s.log.Info("answered", attrs...)
}

// policy builds the request's policy: the server's, with the request's
// deepconf.flags, its system message and its max_tokens applied, checked
// against what the server can do.
func (s *Server) policy(p *parsed) (Policy, *apiError) {
	flags := maps.Clone(p.flags)
	if _, ok := flags["system"]; p.hasSys && !ok {
		flags["system"] = p.system
	}
	if m := p.requestMaxTokens(); m > 0 && m < s.base.Config.Sampling.MaxTokens {
		if _, ok := flags["max-tokens"]; !ok {
			flags["max-tokens"] = json.Number(strconv.Itoa(m))
		}
	}
	pol := s.base
	if len(flags) > 0 {
		var err error
		if pol, err = s.opt.Policy(flags); err != nil {
			return pol, badRequest("deepconf.flags", "%v", err)
		}
	}
	c, b := pol.Config, s.base.Config
	switch {
	case c.Sampling.MaxTokens > b.Sampling.MaxTokens:
		return pol, badRequest("deepconf.flags.max-tokens", "max-tokens %d exceeds the server's %d (the engine's context is sized for it)", c.Sampling.MaxTokens, b.Sampling.MaxTokens)
	case c.Sampling.TopLogprobs > b.Sampling.TopLogprobs:
		return pol, badRequest("deepconf.flags.k", "k %d exceeds the server's %d", c.Sampling.TopLogprobs, b.Sampling.TopLogprobs)
	case p.n > pol.MaxTraces:
		return pol, badRequest("n", "n = %d exceeds the policy's trace budget of %d (the answers are distinct traces)", p.n, pol.MaxTraces)
	}
	if s.opt.Gate.Mode != GateOff {
		scale := b
		if s.opt.Gate.Scale != nil {
			scale = *s.opt.Gate.Scale
		}
		if d := scaleDiff(scale, c); d != "" {
			return pol, badRequest("deepconf.flags", "the confidence gate's threshold is on another confidence scale than this request's: %s", d)
		}
	}
	return pol, nil
}

// contextEnded answers a request whose context ended before its answer:
// the client went away (nothing is sent), the deadline passed (504), or the
// server is shutting down past its drain timeout (503).
func (s *Server) contextEnded(w http.ResponseWriter, r *http.Request, ctx context.Context, id string, arrival time.Time) {
	switch {
	case r.Context().Err() != nil && !s.draining.Load():
		s.m.disconnects.Inc()
		s.log.Info("client went away", "id", id, "ms", time.Since(arrival).Milliseconds())
		w.WriteHeader(statusClientClosed)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		writeError(w, &apiError{Status: http.StatusGatewayTimeout, Type: typeTimeout,
			Message: fmt.Sprintf("no answer within the server's deadline of %v (--request-timeout)", s.opt.Timeout)})
	default:
		writeError(w, &apiError{Status: http.StatusServiceUnavailable, Type: typeServer, Message: "the server is shutting down"})
	}
}

// account adds an answer to the metrics.
func (s *Server) account(a answer) {
	r := a.report
	s.m.behaviours.WithLabelValues(r.Behaviour).Inc()
	s.m.tracesEarly.Add(float64(r.TracesStoppedEarly))
	s.m.promptTokens.Add(float64(a.usage.PromptTokens))
	s.m.genTokens.Add(float64(r.TokensGenerated))
	s.m.baseTokens.Add(float64(r.TokensBaseline))
	if r.Gate != nil {
		s.m.gate.WithLabelValues(r.Gate.Verdict, r.Gate.Action).Inc()
	}
}

func (s *Server) fingerprint() string { return "deepconf-" + s.opt.Version }

// complete writes a non-streaming response.
func (s *Server) complete(w http.ResponseWriter, a answer) {
	c := completion{
		ID: a.id, Object: "chat.completion", Created: a.created, Model: s.opt.Model, SystemFingerprint: s.fingerprint(),
		Usage: a.usage, DeepConf: &a.report,
	}
	for i, ch := range a.choices {
		c.Choices = append(c.Choices, completionChoice{Index: i, Message: message{Role: "assistant", Content: ch.Text}, FinishReason: ch.Finish})
	}
	writeJSON(w, http.StatusOK, c)
}

// stream writes a decided answer as server-sent events: for each choice a
// role chunk, a content chunk with the whole answer and a finish chunk; the
// last chunk before [DONE] carries the deepconf object (and usage when the
// request asked for it, in a chunk without choices, as OpenAI does).
func (s *Server) stream(w http.ResponseWriter, a answer, includeUsage bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	base := chunk{ID: a.id, Object: "chat.completion.chunk", Created: a.created, Model: s.opt.Model, SystemFingerprint: s.fingerprint()}
	send := func(c chunk) {
		b, _ := json.Marshal(c)
		w.Write([]byte("data: "))
		w.Write(b)
		w.Write([]byte("\n\n"))
	}
	empty := ""
	for i, ch := range a.choices {
		text, finish := ch.Text, ch.Finish
		c := base
		c.Choices = []chunkChoice{{Index: i, Delta: delta{Role: "assistant", Content: &empty}}}
		send(c)
		c.Choices = []chunkChoice{{Index: i, Delta: delta{Content: &text}}}
		send(c)
		c.Choices = []chunkChoice{{Index: i, FinishReason: &finish}}
		if !includeUsage && i == len(a.choices)-1 {
			c.DeepConf = &a.report
		}
		send(c)
	}
	if includeUsage {
		c := base
		c.Choices = []chunkChoice{}
		c.Usage, c.DeepConf = &a.usage, &a.report
		send(c)
	}
	w.Write([]byte("data: [DONE]\n\n"))
	http.NewResponseController(w).Flush()
}
