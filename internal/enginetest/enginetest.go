// Package enginetest provides the one scripted engine.Engine of deepconf's
// tests: every Sample call hands over the tokens a script gives it, and the
// engine records what it was asked (prompts, samplings, calls per seed,
// tokens handed over per seed, traces in flight), so that tests of the
// controller, the judges and the run loop need no model.
package enginetest

import (
	"context"
	"strings"
	"sync"

	"github.com/deepconf/deepconf/engine"
)

// Token is a scripted token.
type Token struct {
	// ID is the vocabulary id handed over (-1: the engine reports none).
	ID   int32
	Text string
	// Logprob is the sampled token's log-probability and Top the top
	// log-probabilities handed over with it.
	Logprob float64
	Top     []float64
}

// Trace is what one Sample call hands over.
type Trace struct {
	Tokens []Token
	// Text is the result's text; "" takes the tokens' texts.
	Text string
	// Finish is the result's finish reason when every token was handed
	// over (default engine.FinishStop).
	Finish engine.FinishReason
	// Gate, when set, is waited for before each token after the first (or
	// until the call's context is done): a test holds traces in flight
	// with it.
	Gate <-chan struct{}
	// Err, when set, ends the call with Err after ErrAfter tokens.
	Err      error
	ErrAfter int
}

// Call describes a Sample call to the script.
type Call struct {
	// Prompt is the session's prompt and Sampling the call's.
	Prompt   engine.Prompt
	Sampling engine.Sampling
	// Attempt counts the Sample calls with this seed, this one included
	// (1 for the first).
	Attempt int
}

// Engine is a scripted engine.Engine. Its zero value is not usable: set
// Script. It is safe for concurrent use.
type Engine struct {
	// Script returns the trace of a Sample call; an error fails the call.
	Script func(Call) (Trace, error)
	// OpenErr, when set, fails every Open.
	OpenErr error
	// PromptLen is what the sessions' PromptTokens report, unless
	// PromptCount is set: then it counts the tokens of the session's
	// prompt.
	PromptLen   int
	PromptCount func(engine.Prompt) int
	// Name is Info().Name (default "scripted").
	Name string
	// Hold, when set, holds every Sample call before its first token until
	// it is closed or the call's context is done (then the call ends
	// engine.FinishCancelled with no token): a test holds traces in flight
	// with it.
	Hold <-chan struct{}

	mu        sync.Mutex
	prompts   []engine.Prompt
	samplings []engine.Sampling
	closed    int
	attempts  map[uint64]int
	emitted   map[uint64]int
	inflight  int
	peak      int
	cancelled int
}

// Open implements engine.Engine: it records the prompt and returns a
// session of it.
func (e *Engine) Open(ctx context.Context, p engine.Prompt) (engine.Session, error) {
	if e.OpenErr != nil {
		return nil, e.OpenErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.prompts = append(e.prompts, p)
	e.mu.Unlock()
	return &session{e: e, prompt: p}, nil
}

// Info implements engine.Engine.
func (e *Engine) Info() engine.Info {
	name := e.Name
	if name == "" {
		name = "scripted"
	}
	return engine.Info{Name: name}
}

// Close implements engine.Engine.
func (e *Engine) Close() error { return nil }

// Prompts returns the prompts of the sessions opened, in order.
func (e *Engine) Prompts() []engine.Prompt {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]engine.Prompt(nil), e.prompts...)
}

// Samplings returns the samplings of the Sample calls, in order.
func (e *Engine) Samplings() []engine.Sampling {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]engine.Sampling(nil), e.samplings...)
}

// SessionsClosed returns the number of sessions closed.
func (e *Engine) SessionsClosed() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// Attempts returns the number of Sample calls with seed.
func (e *Engine) Attempts(seed uint64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.attempts[seed]
}

// Seeds returns the number of distinct seeds sampled.
func (e *Engine) Seeds() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.attempts)
}

// Emitted returns the tokens the last Sample call with seed handed over.
func (e *Engine) Emitted(seed uint64) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.emitted[seed]
}

// InFlight returns the number of Sample calls in flight now.
func (e *Engine) InFlight() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.inflight
}

// Cancelled returns the number of Sample calls that ended because their
// context was done.
func (e *Engine) Cancelled() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cancelled
}

// Peak returns the largest number of Sample calls in flight at once.
func (e *Engine) Peak() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peak
}

type session struct {
	e      *Engine
	prompt engine.Prompt
}

func (s *session) PromptTokens() int {
	if s.e.PromptCount != nil {
		return s.e.PromptCount(s.prompt)
	}
	return s.e.PromptLen
}

func (s *session) Close() error {
	s.e.mu.Lock()
	s.e.closed++
	s.e.mu.Unlock()
	return nil
}

// Sample implements engine.Session: it validates the sampling and hands
// over the script's tokens, stopping when fn returns false or ctx is done
// (engine.FinishCancelled), or after Sampling.MaxTokens tokens
// (engine.FinishLength).
func (s *session) Sample(ctx context.Context, p engine.Sampling, fn engine.TokenFunc) (engine.Result, error) {
	if err := p.Validate(); err != nil {
		return engine.Result{}, err
	}
	e := s.e
	e.mu.Lock()
	if e.attempts == nil {
		e.attempts, e.emitted = map[uint64]int{}, map[uint64]int{}
	}
	e.samplings = append(e.samplings, p)
	e.attempts[p.Seed]++
	attempt := e.attempts[p.Seed]
	e.emitted[p.Seed] = 0
	e.inflight++
	e.peak = max(e.peak, e.inflight)
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.inflight--
		e.mu.Unlock()
	}()
	cancelled := func(text string, tokens int) (engine.Result, error) {
		e.mu.Lock()
		e.cancelled++
		e.mu.Unlock()
		return engine.Result{Text: text, Tokens: tokens, Finish: engine.FinishCancelled}, nil
	}
	if e.Hold != nil {
		select {
		case <-e.Hold:
		case <-ctx.Done():
			return cancelled("", 0)
		}
	}
	tr, err := e.Script(Call{Prompt: s.prompt, Sampling: p, Attempt: attempt})
	if err != nil {
		return engine.Result{}, err
	}
	var text strings.Builder
	for j, tok := range tr.Tokens {
		if j == p.MaxTokens {
			return engine.Result{Text: text.String(), Tokens: j, Finish: engine.FinishLength}, nil
		}
		if j > 0 && tr.Gate != nil {
			select {
			case <-tr.Gate:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			return cancelled(text.String(), j)
		}
		if tr.Err != nil && j == tr.ErrAfter {
			return engine.Result{Text: text.String(), Tokens: j}, tr.Err
		}
		text.WriteString(tok.Text)
		e.mu.Lock()
		e.emitted[p.Seed] = j + 1
		e.mu.Unlock()
		if !fn(&engine.Token{Index: j, ID: tok.ID, Text: tok.Text, Logprob: tok.Logprob, TopLogprobs: tok.Top}) {
			return engine.Result{Text: text.String(), Tokens: j + 1, Finish: engine.FinishCancelled}, nil
		}
	}
	if tr.Err != nil {
		return engine.Result{Text: text.String(), Tokens: len(tr.Tokens)}, tr.Err
	}
	res := engine.Result{Text: tr.Text, Tokens: len(tr.Tokens), Finish: tr.Finish}
	if res.Text == "" {
		res.Text = text.String()
	}
	if res.Finish == "" {
		res.Finish = engine.FinishStop
	}
	return res, nil
}

// Confident returns a trace of len(confs) tokens whose top k
// log-probabilities are all −confs[i], so that DeepConf's token confidence
// (the negative mean of the top-k log-probabilities) of token i is exactly
// confs[i]; every token's sampled log-probability is logprob, and text is
// the first token's piece (the others are empty).
func Confident(confs []float64, k int, logprob float64, text string) Trace {
	tr := Trace{Tokens: make([]Token, len(confs))}
	for i, c := range confs {
		top := make([]float64, k)
		for j := range top {
			top[j] = -c
		}
		tr.Tokens[i] = Token{ID: -1, Logprob: logprob, Top: top}
	}
	if len(tr.Tokens) > 0 {
		tr.Tokens[0].Text = text
	}
	return tr
}

// Words returns a trace of text cut after each space, one token per word,
// each with the single top log-probability −0.1.
func Words(text string) Trace {
	var tr Trace
	for _, w := range strings.SplitAfter(text, " ") {
		tr.Tokens = append(tr.Tokens, Token{ID: -1, Text: w, Top: []float64{-0.1}})
	}
	return tr
}

// Replies returns a Script that answers the Sample calls in order with the
// given texts (Words), one per call; a call beyond them gets an empty
// trace.
func Replies(texts ...string) func(Call) (Trace, error) {
	var (
		mu   sync.Mutex
		used int
	)
	return func(Call) (Trace, error) {
		mu.Lock()
		defer mu.Unlock()
		if used >= len(texts) {
			return Trace{}, nil
		}
		used++
		return Words(texts[used-1]), nil
	}
}
