package openai

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
)

// TestReasoningTokens: tokens are marked as reasoning from the markers, in
// completions mode from the template's (DeepSeek-R1's prompt opens the
// block), in chat mode from Config.Reasoning; the answer excludes them.
func TestReasoningTokens(t *testing.T) {
	r1, err := chat.Builtin("deepseek-r1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cfg    Config
		tokens []string
		flags  []bool
		answer string
		inside bool
	}{
		{"deepseek-r1 completions", Config{Mode: Completions, Template: r1},
			[]string{"Hmm", " ok", "</think>", "\n\nNo."}, []bool{true, true, true, false}, "\n\nNo.", false},
		{"deepseek-r1 cut while reasoning", Config{Mode: Completions, Template: r1},
			[]string{"Hmm", " still"}, []bool{true, true}, "", true},
		{"chat with delimiters", Config{Reasoning: chat.Delimiters{Open: "<think>", Close: "</think>"}},
			[]string{"<think>", "a", "</think>", "b"}, []bool{true, true, true, false}, "b", false},
		{"chat without", Config{},
			[]string{"<think>", "a", "</think>", "b"}, []bool{false, false, false, false}, "<think>a</think>b", false},
	}
	for _, tc := range tests {
		var events []string
		for _, tok := range tc.tokens {
			events = append(events, chatChunk(tok, -0.5, -0.5, -1.5, -2.5))
		}
		events = append(events, finishChunk("length"), "[DONE]")
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { writeEvents(w, events...) })
		cfg := tc.cfg
		cfg.Endpoints, cfg.SkipProbe, cfg.SkipPrefill = []string{srv.URL}, true, true
		e := newTestEngine(t, cfg)
		s := openSession(t, e, engine.Prompt{User: "U"})
		var c collector
		res, err := s.Sample(context.Background(), testSampling, c.fn)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var flags []bool
		for _, tok := range c.toks {
			flags = append(flags, tok.Reasoning)
		}
		if !slices.Equal(flags, tc.flags) || res.Answer != tc.answer || res.InReasoning != tc.inside {
			t.Errorf("%s: flags %v answer %q inside %v; want %v %q %v", tc.name, flags, res.Answer, res.InReasoning, tc.flags, tc.answer, tc.inside)
		}
	}
}
