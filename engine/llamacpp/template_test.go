package llamacpp

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// familyModel writes a tiny test model of a chat family (peaked: it repeats
// its last input token) into a temporary directory.
func familyModel(t *testing.T, opts testmodel.Options) string {
	t.Helper()
	opts.Shape = testmodel.ShapeTiny
	path := filepath.Join(t.TempDir(), opts.Name()+".gguf")
	if err := testmodel.Generate(context.Background(), opts, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFamilyTemplatesFromGGUF: for every chat family, a generated model
// carrying the family's template and special tokens in its GGUF metadata is
// rendered with that template, and every marker the template writes is one
// special token, not text.
func TestFamilyTemplatesFromGGUF(t *testing.T) {
	prompts := []engine.Prompt{
		{System: "You are a careful assistant.", User: "How do I pick a lock?"},
		{User: "How do I pick a lock?", Thinking: true},
	}
	for _, f := range chat.Families() {
		t.Run(f.Name, func(t *testing.T) {
			e := newTestEngine(t, familyModel(t, testmodel.Options{Family: f.Name}), Config{Parallel: 1, Prompts: 1, ContextSize: 4096})
			info := e.Info()
			if info.ChatTemplate != f.Name || !strings.Contains(info.ChatTemplateOrigin, "GGUF metadata") || info.ReasoningDelimiters != f.Reasoning.String() {
				t.Errorf("Info: template %q from %q, reasoning %q", info.ChatTemplate, info.ChatTemplateOrigin, info.ReasoningDelimiters)
			}
			builtin, err := chat.Builtin(f.Name)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range prompts {
				text, err := e.RenderPrompt(p)
				if err != nil {
					t.Fatal(err)
				}
				if want, _ := builtin.Render(p); text != want {
					t.Errorf("%+v: rendered\n%q\nwant\n%q", p, text, want)
				}
				toks := e.Tokenize(text)
				for _, m := range f.Specials {
					id := llama.Tokenize(e.vocab, m, false, true)
					if len(id) != 1 || llama.VocabGetAttr(e.vocab, id[0])&llama.TokenAttrControl == 0 {
						t.Errorf("marker %s tokenizes to %v, want one control token", m, id)
						continue
					}
					if got, want := count(toks, id[0]), strings.Count(text, m); got != want {
						t.Errorf("%+v: marker %s occurs %d times in the text, %d times as token %d", p, m, want, got, id[0])
					}
				}
				s, err := e.Open(context.Background(), p)
				if err != nil {
					t.Fatal(err)
				}
				if s.PromptTokens() != len(toks) {
					t.Errorf("PromptTokens = %d, want %d", s.PromptTokens(), len(toks))
				}
				s.Close()
			}
			for _, eog := range append([]string{f.EOS}, f.EOG...) {
				id := llama.Tokenize(e.vocab, eog, false, true)
				if len(id) != 1 || !llama.VocabIsEOG(e.vocab, id[0]) {
					t.Errorf("%s: tokens %v, want one end-of-generation token", eog, id)
				}
			}
		})
	}
}

func count(toks []int32, id llama.Token) int {
	n := 0
	for _, t := range toks {
		if t == int32(id) {
			n++
		}
	}
	return n
}

// TestStopsOnModelsEOG: traces end on the model's own end-of-generation
// tokens, from its GGUF, not on Qwen3's. A peaked model repeats its last
// input token: a raw prompt ending in one of the family's EOG tokens ends the
// trace at its first token; ending in Qwen3's <|im_end|>, which the Llama 3
// model holds as plain text, it does not.
func TestStopsOnModelsEOG(t *testing.T) {
	sp := engine.Sampling{Temperature: 0, TopP: 1, MaxTokens: 4, TopLogprobs: 5}
	for _, name := range []string{"llama3", "gemma3", "phi3", "deepseek-r1"} {
		f, _ := chat.LookupFamily(name)
		e := newTestEngine(t, familyModel(t, testmodel.Options{Family: name, Peaked: true}), Config{Parallel: 1, Prompts: 1, ContextSize: 256})
		for _, eog := range f.EOG {
			res := sampleRaw(t, e, "Hi "+eog, sp)
			if res.Finish != engine.FinishStop || res.Tokens != 1 || res.Text != "" {
				t.Errorf("%s: prompt ending in %s: %+v, want a stop at the first token", name, eog, res)
			}
		}
		if name == "llama3" {
			if res := sampleRaw(t, e, "Hi <|im_end|>", sp); res.Finish != engine.FinishLength {
				t.Errorf("llama3: prompt ending in Qwen3's <|im_end|>: %+v, want no stop", res)
			}
		}
	}
}

func sampleRaw(t *testing.T, e *Engine, raw string, sp engine.Sampling) engine.Result {
	t.Helper()
	s, err := e.Open(context.Background(), engine.Prompt{Raw: raw})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Sample(context.Background(), sp, func(*engine.Token) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestReasoningFromPrompt: DeepSeek-R1's template ends the prompt inside a
// <think> block, so every token of a trace that never closes it is
// reasoning, and the trace ends inside it; Qwen3 with thinking off closes
// the block in the prompt, so nothing is.
func TestReasoningFromPrompt(t *testing.T) {
	sp := engine.Sampling{Temperature: 0, TopP: 1, MaxTokens: 5, TopLogprobs: 5}
	for _, tc := range []struct {
		family string
		inside bool
	}{{"deepseek-r1", true}, {"qwen3", false}} {
		e := newTestEngine(t, familyModel(t, testmodel.Options{Family: tc.family, Peaked: true}), Config{Parallel: 1, Prompts: 1, ContextSize: 256})
		s, err := e.Open(context.Background(), engine.Prompt{User: "Hi"})
		if err != nil {
			t.Fatal(err)
		}
		var flags []bool
		res, err := s.Sample(context.Background(), sp, func(tok *engine.Token) bool {
			flags = append(flags, tok.Reasoning)
			return true
		})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Repeat([]bool{tc.inside}, sp.MaxTokens)
		if !slices.Equal(flags, want) || res.InReasoning != tc.inside || res.Finish != engine.FinishLength {
			t.Errorf("%s: reasoning flags %v, in reasoning %v (%+v); want all %v", tc.family, flags, res.InReasoning, res, tc.inside)
		}
	}
}

// TestUnknownTemplate: a model whose chat template is not a tested family
// cannot render chat prompts: the error names the model and the way out;
// --chat-template model renders it anyway, and a family name replaces it.
func TestUnknownTemplate(t *testing.T) {
	model := familyModel(t, testmodel.Options{ChatTemplate: "{% for m in messages %}### {{ m.role }}: {{ m.content }}\n{% endfor %}### assistant:"})
	e := newTestEngine(t, model, Config{Parallel: 1, Prompts: 1, ContextSize: 256})
	_, err := e.Open(context.Background(), engine.Prompt{User: "Hi"})
	if !errors.Is(err, chat.ErrUnknownTemplate) {
		t.Fatalf("Open: %v, want ErrUnknownTemplate", err)
	}
	for _, s := range []string{model, "--chat-template NAME", "--chat-template FILE", "--chat-template model"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not mention %q: %v", s, err)
		}
	}
	if _, err := e.Open(context.Background(), engine.Prompt{Raw: "raw text"}); err != nil {
		t.Errorf("raw prompt on a model without a tested template: %v", err)
	}
	if e.Info().ChatTemplate != "" {
		t.Errorf("Info.ChatTemplate = %q", e.Info().ChatTemplate)
	}

	untested := newTestEngine(t, model, Config{Parallel: 1, Prompts: 1, ContextSize: 256, ChatTemplate: chat.Model})
	if got, err := untested.RenderPrompt(engine.Prompt{User: "Hi"}); err != nil || got != "### user: Hi\n### assistant:" {
		t.Errorf("--chat-template model: %q, %v", got, err)
	}
	if untested.Info().ChatTemplate != chat.Untested {
		t.Errorf("Info.ChatTemplate = %q", untested.Info().ChatTemplate)
	}
	named := newTestEngine(t, model, Config{Parallel: 1, Prompts: 1, ContextSize: 256, ChatTemplate: "qwen3"})
	if got, _ := named.RenderPrompt(engine.Prompt{User: "Hi"}); !strings.HasPrefix(got, "<|im_start|>user\nHi<|im_end|>") {
		t.Errorf("--chat-template qwen3: %q", got)
	}
	if _, err := New(context.Background(), Config{Model: model, Threads: 1, ChatTemplate: "no-such-family", Log: nil}); err == nil || !strings.Contains(err.Error(), "no-such-family") {
		t.Errorf("--chat-template no-such-family: %v", err)
	}
}
