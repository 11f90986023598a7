package testmodel

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ardanlabs/jinja"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/nativelib"
)

// renderTemplate renders a chat template the way Hugging Face's
// apply_chat_template does for one (optional) system and one user message
// with add_generation_prompt=True.
func renderTemplate(t *testing.T, template string, p engine.Prompt) string {
	t.Helper()
	tmpl, err := jinja.Compile(template)
	if err != nil {
		t.Fatalf("compile chat template: %v", err)
	}
	var msgs []any
	if p.System != "" {
		msgs = append(msgs, map[string]any{"role": "system", "content": p.System})
	}
	msgs = append(msgs, map[string]any{"role": "user", "content": p.User})
	s, err := tmpl.Render(map[string]any{
		"messages":              msgs,
		"add_generation_prompt": true,
		"enable_thinking":       p.Thinking,
	})
	if err != nil {
		t.Fatalf("render chat template: %v", err)
	}
	return s
}

var templatePrompts = []engine.Prompt{
	{User: "What is 17*23?"},
	{User: "What is 17*23?", Thinking: true},
	{System: "You are terse.", User: "  two\nlines  "},
	{System: "You are terse.", User: "Hi", Thinking: true},
}

// TestTinyChatTemplate renders TinyChatTemplate with a Jinja engine and
// compares it with engine.RenderQwen3, which reproduces Qwen3's template.
func TestTinyChatTemplate(t *testing.T) {
	for _, p := range templatePrompts {
		if got, want := renderTemplate(t, TinyChatTemplate, p), engine.RenderQwen3(p); got != want {
			t.Errorf("%+v: TinyChatTemplate renders\n%q\nQwen3 renders\n%q", p, got, want)
		}
	}
}

// TestQwen3ChatTemplate renders the template of the real-vocabulary models
// (Qwen3's, from tokenizer_config.json) the same way.
func TestQwen3ChatTemplate(t *testing.T) {
	dir, err := nativelib.TokenizerDir(context.Background(), testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg hfConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, p := range templatePrompts {
		if got, want := renderTemplate(t, cfg.ChatTemplate, p), engine.RenderQwen3(p); got != want {
			t.Errorf("%+v: Qwen3's template renders\n%q\nengine.RenderQwen3 gives\n%q", p, got, want)
		}
	}
}
