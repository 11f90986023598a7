package testmodel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/nativelib"
)

// tinyChatTemplate returns the chat template of ShapeTiny: the qwen3
// family's template of package chat.
func tinyChatTemplate(t testing.TB) string {
	t.Helper()
	f, ok := chat.LookupFamily("qwen3")
	if !ok {
		t.Fatal("no qwen3 chat family")
	}
	return f.Template
}

// TestTinyChatTemplateUnchanged: the template in ShapeTiny models has the
// bytes it had before the chat package existed (sha256 of the first
// generator's TinyChatTemplate), so cached models and recorded runs stay
// valid.
func TestTinyChatTemplateUnchanged(t *testing.T) {
	sum := sha256.Sum256([]byte(tinyChatTemplate(t)))
	if got, want := hex.EncodeToString(sum[:]), "a73b9898ddf250d713c0cd441273110a1b7d2bff02828377a1e0576de7206357"; got != want {
		t.Errorf("ShapeTiny's chat template changed: sha256 %s, want %s", got, want)
	}
}

var templatePrompts = []engine.Prompt{
	{User: "What is 17*23?"},
	{User: "What is 17*23?", Thinking: true},
	{System: "You are terse.", User: "  two\nlines  "},
	{System: "You are terse.", User: "Hi", Thinking: true},
}

// TestQwen3ChatTemplate: the template of the real-vocabulary models
// (Qwen3's published template, from tokenizer_config.json) is recognised as
// the qwen3 family and renders what ShapeTiny's template renders.
func TestQwen3ChatTemplate(t *testing.T) {
	dir, err := nativelib.TokenizerDir(context.Background(), testLog{t})
	if err != nil {
		t.Fatal(err)
	}
	own, err := chat.ReadTokenizerConfig(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	published, err := chat.Parse(own.Source, own.Tokens, own.Origin, false)
	if err != nil {
		t.Fatal(err)
	}
	if published.Family.Name != "qwen3" {
		t.Fatalf("Qwen3's template detected as %q", published.Family.Name)
	}
	tiny, err := chat.Builtin("qwen3")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range templatePrompts {
		got, err := published.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := tiny.Render(p)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%+v: Qwen3's template renders\n%q\nShapeTiny's renders\n%q", p, got, want)
		}
	}
}
