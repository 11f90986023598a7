package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
)

// errStopped is returned by an attempt whose TokenFunc returned false.
var errStopped = errors.New("trace stopped by the token callback")

// maxErrorBody and maxJSONBody bound how much of a response body is read
// for an error message and for a non-streaming answer.
const (
	maxErrorBody = 64 << 10
	maxJSONBody  = 64 << 20
)

// session is one prompt.
type session struct {
	e      *Engine
	prompt engine.Prompt
	mode   Mode
	// text is the rendered prompt of Completions mode.
	text string
	// reasoning are the markers of the model's reasoning; inReasoning
	// reports that the rendered prompt leaves the model inside a block.
	reasoning   chat.Delimiters
	inReasoning bool
	// home is the endpoint that received the prefill request.
	home         *endpoint
	promptTokens atomic.Int64

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

var _ engine.Session = (*session)(nil)

// trace is the state of one trace across its attempts.
type trace struct {
	fn engine.TokenFunc
	// ep is the endpoint of the latest attempt.
	ep *endpoint
	// delivered counts tokens handed to fn; entries counts logprob entries
	// received (they differ only for a trace without fn, or when fn
	// stopped the trace in the middle of a chunk).
	delivered int
	entries   int
	content   []byte
	reasoning []byte
	finish    string
	usage     usage
	stats     *probeStats
	tok       engine.Token
	p         parser

	// noTimeoutRetry makes a timed-out attempt final (the probe: a user
	// waits for it, and the timeout already says what is wrong).
	noTimeoutRetry bool
	// reason tells reasoning from answer, token by token; start is its
	// state before the first token, for a retried attempt. delims and
	// startInside split the whole text the same way.
	reason, start chat.Tracker
	delims        chat.Delimiters
	startInside   bool
}

// resetAttempt forgets what a failed attempt received (no token of it
// reached fn).
func (t *trace) resetAttempt() {
	t.reason = t.start
	t.entries = 0
	t.content = t.content[:0]
	t.reasoning = t.reasoning[:0]
	t.finish = ""
	t.usage = usage{}
	if t.stats != nil {
		*t.stats = probeStats{}
	}
}

// text returns the trace's text. When the server's reasoning parser split
// thinking off into reasoning_content (vLLM, SGLang) or reasoning (Ollama),
// the thinking is put back in front as "<think>…</think>", so the text
// reads like the model's raw output, as with the embedded engine (the
// whitespace around the tags may differ from the raw output).
func (t *trace) text() string {
	if len(t.reasoning) == 0 {
		return string(t.content)
	}
	return "<think>" + string(t.reasoning) + "</think>" + string(t.content)
}

// Sample generates one trace with one streaming request. See the package
// documentation for retries, stopping and token accounting.
func (s *session) Sample(ctx context.Context, sp engine.Sampling, fn engine.TokenFunc) (engine.Result, error) {
	if err := sp.Validate(); err != nil {
		return engine.Result{}, fmt.Errorf("openai: sampling: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return engine.Result{}, errors.New("openai: session closed")
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	tr := chat.NewTracker(s.reasoning, s.inReasoning)
	return s.run(ctx, sp, fn, nil, &trace{reason: tr, start: tr, delims: s.reasoning, startInside: s.inReasoning})
}

// PromptTokens returns the prompt's token count as reported by the server
// (usage.prompt_tokens) for the prefill request or the latest trace, or 0
// while no server has reported it.
func (s *session) PromptTokens() int { return int(s.promptTokens.Load()) }

// Close waits for running traces and closes the session.
func (s *session) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// run samples one trace, retrying failed attempts while no token has reached
// fn. With pin set, only that endpoint is used.
func (s *session) run(ctx context.Context, sp engine.Sampling, fn engine.TokenFunc, pin *endpoint, st *trace) (engine.Result, error) {
	e := s.e
	st.fn = fn
	for attempt := 0; ; attempt++ {
		ep, err := e.acquire(ctx, s.home, pin)
		if err != nil {
			if ctx.Err() != nil {
				return st.cancelled(), nil
			}
			return engine.Result{}, err
		}
		st.ep = ep
		err = s.attempt(ctx, ep, sp, st)
		e.release(ep)
		if err == nil {
			return s.finished(st)
		}
		if errors.Is(err, errStopped) || ctx.Err() != nil {
			return st.cancelled(), nil
		}
		if st.delivered > 0 {
			// The tokens seen count as generated; Finish stays empty.
			r := st.cancelled()
			r.Finish = ""
			return r, fmt.Errorf("openai: %w after %d tokens: %w", engine.ErrInterrupted, st.delivered, err)
		}
		var te *timeoutError
		if !isRetryable(err) || attempt >= e.retry.MaxRetries || st.noTimeoutRetry && errors.As(err, &te) {
			if attempt > 0 {
				return engine.Result{}, fmt.Errorf("openai: %w (gave up after %d attempts)", err, attempt+1)
			}
			return engine.Result{}, fmt.Errorf("openai: %w", err)
		}
		d := e.retry.delay(attempt, err)
		e.log.Warn("openai: retrying request", "endpoint", ep.display, "attempt", attempt+1, "delay", d, "error", err.Error())
		st.resetAttempt()
		if err := e.sleep(ctx, d); err != nil {
			if ctx.Err() != nil {
				return st.cancelled(), nil
			}
			return engine.Result{}, fmt.Errorf("openai: wait before retry: %w", err)
		}
	}
}

// cancelled returns the result of a trace stopped by its TokenFunc or its
// context: the tokens received so far count as generated.
func (t *trace) cancelled() engine.Result {
	return t.result(max(t.delivered, t.entries), engine.FinishCancelled)
}

// result returns the trace's result with n tokens and finish reason fr.
func (t *trace) result(n int, fr engine.FinishReason) engine.Result {
	text := t.text()
	_, answer := t.delims.Split(text, t.startInside)
	return engine.Result{Text: text, Answer: answer, Tokens: n, Finish: fr, InReasoning: t.reason.Inside()}
}

// finished builds the result of a trace that ended normally.
//
// Token accounting: Tokens is usage.completion_tokens of the last usage
// object the server sent, when it is positive; otherwise the number of
// logprob entries received. The server's count also covers tokens without a
// logprob entry (for example a stop token some servers omit), so it is the
// better cost measure; the entry count is the fallback for servers that
// send no usage or a zero placeholder (Ollama's /v1/completions).
func (s *session) finished(st *trace) (engine.Result, error) {
	fr, err := finishReason(st.finish) // checkEnd accepted it already
	if err != nil {
		return engine.Result{}, fmt.Errorf("openai: %s: %w", st.ep.display, err)
	}
	n := st.entries
	if st.usage.present && st.usage.completionTokens > 0 {
		n = st.usage.completionTokens
	}
	if st.usage.promptTokens > 0 {
		s.promptTokens.Store(int64(st.usage.promptTokens))
	}
	return st.result(n, fr), nil
}

// finishReason maps a server finish_reason. "stop" (every server) and the
// synonyms "eos" and "eos_token" mean the model ended the turn;
// "length" means max_tokens was reached. Anything else (SGLang's and vLLM's
// "abort", "error", "content_filter", "tool_calls") is an error: the trace
// did not end the way DeepConf assumes.
func finishReason(s string) (engine.FinishReason, error) {
	switch s {
	case "stop", "eos", "eos_token":
		return engine.FinishStop, nil
	case "length":
		return engine.FinishLength, nil
	case "":
		return "", errors.New("stream ended without a finish_reason")
	}
	return "", fmt.Errorf("server ended the trace with finish_reason %q", s)
}

// body builds the JSON request for one attempt on ep.
func (s *session) body(ep *endpoint, sp engine.Sampling) (path string, body []byte, err error) {
	e := s.e
	m := map[string]any{
		"model":          e.model,
		"stream":         true,
		"stream_options": map[string]any{"include_usage": true},
		"n":              1,
		"temperature":    sp.Temperature,
		"top_p":          min(sp.TopP, 1),
		"max_tokens":     sp.MaxTokens,
		// vLLM and Ollama take a signed 64-bit seed; llama.cpp keeps the
		// low 32 bits.
		"seed": int64(sp.Seed & math.MaxInt64),
	}
	if sp.TopK > 0 {
		m["top_k"] = sp.TopK
	}
	switch s.mode {
	case Chat:
		path = "/v1/chat/completions"
		var msgs []map[string]string
		if s.prompt.System != "" {
			msgs = append(msgs, map[string]string{"role": "system", "content": s.prompt.System})
		}
		msgs = append(msgs, map[string]string{"role": "user", "content": s.prompt.User})
		m["messages"] = msgs
		m["logprobs"] = true
		m["top_logprobs"] = sp.TopLogprobs
		m["chat_template_kwargs"] = map[string]any{"enable_thinking": s.prompt.Thinking}
		if ep.kind == "ollama" && !s.prompt.Thinking {
			// Ollama's /v1 layer has no chat_template_kwargs and no
			// think field; reasoning_effort "none" maps to think=false.
			m["reasoning_effort"] = "none"
		}
	case Completions:
		path = "/v1/completions"
		m["prompt"] = s.text
		m["logprobs"] = sp.TopLogprobs
	}
	for k, v := range e.cfg.ExtraBody {
		m[k] = v
	}
	body, err = json.Marshal(m)
	if err != nil {
		return "", nil, fmt.Errorf("encode request: %w", err)
	}
	return path, body, nil
}

// setHeaders sets the headers of every request.
func (e *Engine) setHeaders(h http.Header) {
	if e.key != "" {
		h.Set("Authorization", "Bearer "+e.key)
	}
	h.Set("User-Agent", "deepconf")
}

// attempt sends one request on ep and streams its answer into st.
func (s *session) attempt(ctx context.Context, ep *endpoint, sp engine.Sampling, st *trace) error {
	e := s.e
	path, body, err := s.body(ep, sp)
	if err != nil {
		return err
	}
	// Each attempt has its own context: cancelling it aborts the request
	// and closes its connection, which is how a stopped trace frees the
	// server (docs/method.md, pitfall P15). The watchdog cancels it when
	// a timeout expires.
	what := "POST " + path
	reqCtx, w := e.watch(ctx, ep, what, e.limits(), true)
	defer w.stop()
	err = s.exchange(reqCtx, w, ep, what, path, body, st)
	if err != nil && !errors.Is(err, errStopped) {
		if te := w.timedOut(); te != nil {
			return te
		}
	}
	if se := (*statusError)(nil); errors.As(err, &se) && se.status == http.StatusNotFound && ep.models == nil && ctx.Err() == nil {
		// Name the models the server has, when it says.
		if ids, _, lerr := e.listModels(ctx, ep); lerr == nil {
			se.models = ids
		}
	}
	return err
}

// exchange sends the request of an attempt and reads its answer.
func (s *session) exchange(ctx context.Context, w *watchdog, ep *endpoint, what, path string, body []byte, st *trace) error {
	e := s.e
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: build request: %w", ep.display, err)
	}
	e.setHeaders(req.Header)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := e.client.Do(req)
	if err != nil {
		return connectionError(ep, what, err)
	}
	defer resp.Body.Close()
	w.gotHeaders()
	if resp.StatusCode != http.StatusOK {
		return e.statusError(ep, what, resp)
	}
	switch mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt {
	case "application/json":
		// The server ignored stream:true and answered at once.
		return s.readJSON(ep, resp.Body, st)
	case "text/html":
		// A login page of a proxy, or a web UI at the wrong URL.
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
		return &malformedError{endpoint: ep.display, event: 0, data: e.redact(snippet(raw, 0)),
			err: errors.New("the server answered with an HTML page, not an event stream (check the endpoint URL)")}
	}
	return s.readStream(ctx, w, ep, resp.Body, st)
}

// checkEnd validates the end of a stream: it must have had a finish_reason
// DeepConf understands.
func (st *trace) checkEnd(ep *endpoint) error {
	if _, err := finishReason(st.finish); err != nil {
		return &streamError{endpoint: ep.display, msg: err.Error()}
	}
	return nil
}

// statusError turns a non-200 response to what ("POST /v1/…") into an error
// with the server's message (API key redacted). Context-overflow messages
// wrap engine.ErrContextOverflow.
func (e *Engine) statusError(ep *endpoint, what string, resp *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	msg := errorMessage(raw)
	if msg == "" {
		msg = string(bytes.TrimSpace(raw))
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
	}
	msg = e.redact(msg)
	se := &statusError{
		endpoint:   ep.display,
		what:       what,
		keySent:    e.key != "",
		models:     ep.models,
		status:     resp.StatusCode,
		message:    msg,
		retryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusRequestEntityTooLarge {
		if isContextOverflow(msg) {
			return fmt.Errorf("%w: %w", engine.ErrContextOverflow, se)
		}
	}
	return se
}

// serverError turns an in-stream error message into an error.
func (e *Engine) serverError(ep *endpoint, msg string) error {
	msg = e.redact(msg)
	if isContextOverflow(msg) {
		return fmt.Errorf("%s: %w: %s", ep.display, engine.ErrContextOverflow, msg)
	}
	return &streamError{endpoint: ep.display, msg: "server error in stream: " + msg}
}

// readStream reads the SSE stream of one attempt. Every event restarts the
// watchdog's idle period; the TokenFunc stopping the trace cancels ctx.
func (s *session) readStream(ctx context.Context, w *watchdog, ep *endpoint, body io.Reader, st *trace) error {
	e := s.e
	sr := newSSEReader(body, sseBufferSize)
	for {
		data, kind, err := sr.next()
		if err != nil {
			switch {
			case w.timedOut() != nil:
				return w.timedOut()
			case ctx.Err() != nil:
				return ctx.Err()
			case err == io.EOF && st.finish != "":
				// Finished but without [DONE]: accept.
				return st.checkEnd(ep)
			case err == io.EOF:
				return &streamError{endpoint: ep.display, msg: "stream ended before [DONE] and without a finish_reason"}
			}
			return &streamError{endpoint: ep.display, msg: "stream cut", err: err}
		}
		w.event()
		if kind == eventError {
			msg := errorMessage(data)
			if msg == "" {
				msg = string(data)
			}
			return e.serverError(ep, msg)
		}
		if isDone(data) {
			return st.checkEnd(ep)
		}
		if err := st.p.parse(data); err != nil {
			return &malformedError{endpoint: ep.display, event: sr.events, data: e.redact(snippet(data, errorOffset(err))), err: err}
		}
		if msg := st.p.c.errMsg; msg != "" {
			return e.serverError(ep, msg)
		}
		if !st.consume(&st.p.c) {
			w.cancel()
			return errStopped
		}
	}
}

// readJSON reads a non-streaming answer.
func (s *session) readJSON(ep *endpoint, body io.Reader, st *trace) error {
	raw, err := io.ReadAll(io.LimitReader(body, maxJSONBody))
	if err != nil {
		return &streamError{endpoint: ep.display, msg: "read response", err: err}
	}
	if err := st.p.parse(raw); err != nil {
		return &malformedError{endpoint: ep.display, event: 1, data: s.e.redact(snippet(raw, errorOffset(err))), err: err}
	}
	if msg := st.p.c.errMsg; msg != "" {
		return s.e.serverError(ep, msg)
	}
	if !st.consume(&st.p.c) {
		return errStopped
	}
	return st.checkEnd(ep)
}

// consume hands a chunk's entries to the TokenFunc and records its text,
// usage and finish reason. It returns false when the TokenFunc stopped the
// trace.
func (t *trace) consume(c *chunk) bool {
	if t.stats != nil {
		t.stats.add(c)
	}
	t.content = append(t.content, c.content...)
	t.reasoning = append(t.reasoning, c.reasoning...)
	if c.usage.present {
		t.usage = c.usage
	}
	if c.finish != "" {
		t.finish = c.finish
	}
	for i := range c.entries {
		en := &c.entries[i]
		t.entries++
		if t.fn == nil {
			continue
		}
		tok := &t.tok
		tok.Index = t.delivered
		tok.ID = en.id
		tok.Text = string(c.text[en.textOff:en.textEnd])
		tok.Logprob = en.logprob
		tok.TopLogprobs = c.tops[en.top0:en.top1:en.top1]
		tok.TopIDs = nil
		if en.ids {
			tok.TopIDs = c.topIDs[en.top0:en.top1:en.top1]
		}
		tok.Reasoning = t.reason.Next(tok.Text)
		t.delivered++
		if !t.fn(tok) {
			return false
		}
	}
	return true
}
