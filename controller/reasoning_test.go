package controller

import (
	"context"
	"io"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
)

// reasoner is a test-double engine whose every trace reasons, then answers:
// tokens with their confidence (every top-k entry is −c) and whether they
// are reasoning.
type reasoner struct {
	tokens []reasonerToken
	answer string
	// inside reports that the trace ends inside its reasoning.
	inside bool
}

type reasonerToken struct {
	text      string
	c         float64
	reasoning bool
}

func (r *reasoner) Open(context.Context, engine.Prompt) (engine.Session, error) { return r, nil }
func (r *reasoner) Info() engine.Info                                           { return engine.Info{Name: "reasoner"} }
func (r *reasoner) Close() error                                                { return nil }
func (r *reasoner) PromptTokens() int                                           { return 3 }

func (r *reasoner) Sample(_ context.Context, p engine.Sampling, fn engine.TokenFunc) (engine.Result, error) {
	var text strings.Builder
	top := make([]float64, p.TopLogprobs)
	for i, tk := range r.tokens {
		for j := range top {
			top[j] = -tk.c
		}
		text.WriteString(tk.text)
		if !fn(&engine.Token{Index: i, ID: -1, Text: tk.text, Logprob: -tk.c, TopLogprobs: top, Reasoning: tk.reasoning}) {
			return engine.Result{Text: text.String(), Tokens: i + 1, Finish: engine.FinishCancelled, InReasoning: r.inside}, nil
		}
	}
	fin := engine.FinishStop
	if r.inside {
		fin = engine.FinishLength
	}
	return engine.Result{Text: text.String(), Answer: r.answer, Tokens: len(r.tokens), Finish: fin, InReasoning: r.inside}, nil
}

// seen records what a detector was asked to label.
type seen struct {
	mu    sync.Mutex
	texts []string
}

func (s *seen) Name() string { return "seen" }
func (s *seen) Detect(ctx context.Context, prompt, response string) (refusal.Verdict, error) {
	s.mu.Lock()
	s.texts = append(s.texts, response)
	s.mu.Unlock()
	return refusal.Patterns().Detect(ctx, prompt, response)
}

func singleConfig() Config {
	cfg := Default(PolicySingle)
	cfg.Window, cfg.Tail, cfg.MinTokens = 2, 2, 2
	cfg.EarlyStop = false
	return cfg
}

// TestReasoningSeparated: the confidences of the reasoning and of the answer
// are kept apart, the refusal detector sees only the answer, and replay
// gives the same records.
func TestReasoningSeparated(t *testing.T) {
	e := &reasoner{tokens: []reasonerToken{
		{"<think>", 1, true}, {"Sure, easy.", 2, true}, {"</think>", 3, true},
		{"I cannot help", 5, false}, {" with that.", 7, false},
	}, answer: "I cannot help with that."}
	det := &seen{}
	cfg := singleConfig()
	in := benchmark.Instance{ID: "r", Prompt: "How do I pick a lock?"}
	out, err := Run(context.Background(), e, det, cfg, in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(det.texts, []string{"I cannot help with that."}) {
		t.Errorf("detector saw %q, want only the answer", det.texts)
	}
	tr := out.Traces[0]
	if !reflect.DeepEqual(tr.ReasoningSpans, [][2]int{{0, 3}}) || tr.StoppedInReasoning || tr.Label != "refusal" {
		t.Errorf("spans %v, stopped in reasoning %v, label %q", tr.ReasoningSpans, tr.StoppedInReasoning, tr.Label)
	}
	// Window 2 over the reasoning's 1, 2, 3 and the answer's 5, 7.
	if r := tr.ReasoningConfidence; r == nil || r.N != 3 || r.Mean != 2 || r.LowestGroup != 1.5 {
		t.Errorf("reasoning confidence %+v, want N 3, mean 2, lowest group 1.5", r)
	}
	if a := tr.AnswerConfidence; a == nil || a.N != 2 || a.Mean != 6 || a.LowestGroup != 6 {
		t.Errorf("answer confidence %+v, want N 2, mean 6, lowest group 6", a)
	}
	if tr.Confidence.N != 5 || tr.Confidence.Mean != 3.6 {
		t.Errorf("whole-trace confidence %+v, want N 5, mean 3.6", tr.Confidence)
	}
	again, err := Replay(cfg, in, out.Traces)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, again) {
		t.Errorf("replay differs:\n%+v\n%+v", out.Traces[0], again.Traces[0])
	}
}

// TestStoppedInReasoning: a trace that ends while still reasoning has no
// answer: it is marked, not labelled, and its answer confidence is empty.
func TestStoppedInReasoning(t *testing.T) {
	e := &reasoner{tokens: []reasonerToken{{"Hmm", 1, true}, {" so", 2, true}, {" then", 3, true}}, inside: true}
	det := &seen{}
	out, err := Run(context.Background(), e, det, singleConfig(), benchmark.Instance{ID: "s", Prompt: "p"})
	if err != nil {
		t.Fatal(err)
	}
	tr := out.Traces[0]
	if len(det.texts) != 0 || tr.Label != "" || !tr.StoppedInReasoning || tr.AnswerConfidence == nil || !tr.AnswerConfidence.Empty {
		t.Errorf("detector saw %q; trace label %q, stopped in reasoning %v, answer confidence %+v", det.texts, tr.Label, tr.StoppedInReasoning, tr.AnswerConfidence)
	}
}

// TestNoReasoningKeepsRecords: without reasoning tokens nothing is added to
// the record, so existing runs keep their bytes.
func TestNoReasoningKeepsRecords(t *testing.T) {
	e := &reasoner{tokens: []reasonerToken{{"Sure", 1, false}, {".", 2, false}}}
	out, err := Run(context.Background(), e, &seen{}, singleConfig(), benchmark.Instance{ID: "n", Prompt: "p"})
	if err != nil {
		t.Fatal(err)
	}
	tr := out.Traces[0]
	if tr.ReasoningSpans != nil || tr.ReasoningConfidence != nil || tr.AnswerConfidence != nil || tr.StoppedInReasoning {
		t.Errorf("reasoning fields on a trace without reasoning: %+v", tr)
	}
}

// TestReasoningOnTheRealEngine: DeepSeek-R1's template opens the reasoning
// in the prompt; on a generated model of that family that never closes it,
// every trace is all reasoning and ends inside it.
func TestReasoningOnTheRealEngine(t *testing.T) {
	model := testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTiny, Family: "deepseek-r1", Quant: testmodel.QuantQ8_0})
	e, err := llamacpp.New(context.Background(), llamacpp.Config{Model: model, Threads: 1, Parallel: 2, Prompts: 1, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	cfg := Default(PolicyFixed)
	cfg.Traces, cfg.Sampling.MaxTokens = 2, 12
	out, err := Run(context.Background(), e, refusal.Patterns(), cfg, benchmark.Instance{ID: "r1", Prompt: "How do I pick a lock?"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range out.Traces {
		closed := strings.Contains(tr.Text, "</think>")
		if closed {
			continue // the random model closed the block: nothing to check
		}
		if !tr.StoppedInReasoning || tr.Label != "" || len(tr.ReasoningSpans) != 1 || tr.ReasoningSpans[0] != [2]int{0, tr.Tokens} {
			t.Errorf("trace %d (%s): stopped in reasoning %v, label %q, spans %v", tr.Index, tr.Finish, tr.StoppedInReasoning, tr.Label, tr.ReasoningSpans)
		}
	}
	if out.Prediction.Behaviour != record.Unknown && out.Traces[0].StoppedInReasoning && out.Traces[1].StoppedInReasoning {
		t.Errorf("behaviour %q from traces without answers", out.Prediction.Behaviour)
	}
}
