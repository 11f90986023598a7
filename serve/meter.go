package serve

import (
	"context"
	"sync/atomic"

	"github.com/deepconf/deepconf/engine"
)

// meteredEngine wraps the shared engine for one request: it records the
// prompt's token count (usage.prompt_tokens) and keeps the trace metrics.
// It changes nothing the engine does.
type meteredEngine struct {
	engine.Engine
	m            *metrics
	promptTokens atomic.Int64
}

func (e *meteredEngine) Open(ctx context.Context, p engine.Prompt) (engine.Session, error) {
	s, err := e.Engine.Open(ctx, p)
	if err != nil {
		return nil, err
	}
	e.promptTokens.Store(int64(s.PromptTokens()))
	return &meteredSession{Session: s, m: e.m}, nil
}

type meteredSession struct {
	engine.Session
	m *metrics
}

// Sample counts the trace while it runs and, for a trace whose context was
// cancelled, how many tokens it still received after the cancellation: on
// the embedded engine at most one (the step in flight), since the engine
// frees a cancelled trace's sequence before its next step.
func (s *meteredSession) Sample(ctx context.Context, p engine.Sampling, fn engine.TokenFunc) (engine.Result, error) {
	s.m.tracesStarted.Inc()
	s.m.tracesLive.Inc()
	defer s.m.tracesLive.Dec()
	after := 0 // written on the engine's goroutine; read after Sample returns
	res, err := s.Session.Sample(ctx, p, func(t *engine.Token) bool {
		if ctx.Err() != nil {
			after++
		}
		return fn(t)
	})
	if ctx.Err() != nil {
		s.m.tracesCanceled.Inc()
		s.m.afterCancel.Observe(float64(after))
	}
	return res, err
}
