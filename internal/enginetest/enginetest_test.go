package enginetest

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

var sampling = engine.Sampling{TopP: 1, MaxTokens: 8, TopLogprobs: 2, Seed: 7}

func collect(t *testing.T, e *Engine, p engine.Sampling, stopAfter int) ([]engine.Token, engine.Result, error) {
	t.Helper()
	s, err := e.Open(context.Background(), engine.Prompt{User: "u"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var toks []engine.Token
	res, err := s.Sample(context.Background(), p, func(tok *engine.Token) bool {
		c := *tok
		c.TopLogprobs = append([]float64(nil), tok.TopLogprobs...)
		toks = append(toks, c)
		return stopAfter == 0 || len(toks) < stopAfter
	})
	return toks, res, err
}

func TestConfident(t *testing.T) {
	e := &Engine{Script: func(c Call) (Trace, error) {
		return Confident([]float64{1.5, 2}, c.Sampling.TopLogprobs, -0.25, "refuse"), nil
	}, PromptLen: 10}
	toks, res, err := collect(t, e, sampling, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []engine.Token{{Index: 0, ID: -1, Text: "refuse", Logprob: -0.25, TopLogprobs: []float64{-1.5, -1.5}}, {Index: 1, ID: -1, Logprob: -0.25, TopLogprobs: []float64{-2, -2}}}
	if !reflect.DeepEqual(toks, want) || res != (engine.Result{Text: "refuse", Tokens: 2, Finish: engine.FinishStop}) {
		t.Errorf("tokens %+v, result %+v", toks, res)
	}
	if e.Attempts(7) != 1 || e.Emitted(7) != 2 || e.Seeds() != 1 || e.Peak() != 1 || e.SessionsClosed() != 1 || len(e.Prompts()) != 1 || e.Info().Name != "scripted" {
		t.Errorf("records: attempts %d, emitted %d, seeds %d, peak %d, closed %d", e.Attempts(7), e.Emitted(7), e.Seeds(), e.Peak(), e.SessionsClosed())
	}
}

func TestWordsStopAndErrors(t *testing.T) {
	e := &Engine{Script: Replies("I can't help", "Sure")}
	toks, res, err := collect(t, e, sampling, 2)
	if err != nil || len(toks) != 2 || res != (engine.Result{Text: "I can't ", Tokens: 2, Finish: engine.FinishCancelled}) {
		t.Errorf("stopped after 2: %+v %+v %v", toks, res, err)
	}
	_, res, err = collect(t, e, sampling, 0)
	if err != nil || res.Text != "Sure" || e.Attempts(7) != 2 || len(e.Samplings()) != 2 {
		t.Errorf("second reply %+v %v", res, err)
	}

	boom := errors.New("stream cut")
	e = &Engine{Script: func(c Call) (Trace, error) {
		tr := Words("a b c d")
		if c.Attempt == 1 {
			tr.Err, tr.ErrAfter = boom, 2
		}
		return tr, nil
	}}
	toks, res, err = collect(t, e, sampling, 0)
	if !errors.Is(err, boom) || len(toks) != 2 || res.Tokens != 2 {
		t.Errorf("cut: %d tokens, %+v, %v", len(toks), res, err)
	}
	if _, res, err = collect(t, e, sampling, 0); err != nil || res.Tokens != 4 {
		t.Errorf("second attempt: %+v, %v", res, err)
	}
	if _, _, err := collect(t, e, engine.Sampling{}, 0); err == nil {
		t.Error("an invalid sampling: no error")
	}
	if _, err := (&Engine{OpenErr: boom}).Open(context.Background(), engine.Prompt{}); !errors.Is(err, boom) {
		t.Errorf("Open: %v", err)
	}
}

func TestGate(t *testing.T) {
	gate := make(chan struct{})
	e := &Engine{Script: func(Call) (Trace, error) {
		tr := Words("a b c")
		tr.Gate = gate
		return tr, nil
	}}
	s, _ := e.Open(context.Background(), engine.Prompt{})
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan struct{}, 1)
	done := make(chan engine.Result)
	go func() {
		res, _ := s.Sample(ctx, sampling, func(*engine.Token) bool {
			select {
			case first <- struct{}{}:
			default:
			}
			return true
		})
		done <- res
	}()
	<-first // the first token passed; the second waits at the gate
	cancel()
	if res := <-done; res.Tokens != 1 || res.Finish != engine.FinishCancelled {
		t.Errorf("cancelled at the gate: %+v", res)
	}
}

func TestHoldCountsAndMaxTokens(t *testing.T) {
	hold := make(chan struct{})
	e := &Engine{Script: Replies("a b c d e"), Hold: hold, PromptCount: func(p engine.Prompt) int { return len(p.User) }}
	s, _ := e.Open(context.Background(), engine.Prompt{User: "four"})
	if n := s.PromptTokens(); n != 4 {
		t.Errorf("PromptTokens = %d, want PromptCount's 4", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan engine.Result)
	go func() {
		res, _ := s.Sample(ctx, sampling, func(*engine.Token) bool { return true })
		done <- res
	}()
	for e.InFlight() != 1 {
		runtime.Gosched() // the call waits at Hold
	}
	cancel()
	if res := <-done; res != (engine.Result{Finish: engine.FinishCancelled}) || e.Cancelled() != 1 || e.InFlight() != 0 {
		t.Errorf("cancelled at Hold: %+v, cancelled %d, in flight %d", res, e.Cancelled(), e.InFlight())
	}

	close(hold)
	short := sampling
	short.MaxTokens = 3
	toks, res, err := collect(t, e, short, 0)
	if err != nil || len(toks) != 3 || res != (engine.Result{Text: "a b c ", Tokens: 3, Finish: engine.FinishLength}) {
		t.Errorf("MaxTokens 3: %d tokens, %+v, %v", len(toks), res, err)
	}
	if e.Cancelled() != 1 {
		t.Errorf("cancelled %d, want 1", e.Cancelled())
	}
}
