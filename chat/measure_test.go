package chat_test

import (
	"context"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/hybridgroup/yzma/pkg/llama"
)

// llamaCppNames are llama.cpp's built-in templates (llama_chat_apply_template
// by name) for the families: its best case, without the heuristic that
// picks one from a template's text.
var llamaCppNames = map[string]string{
	"qwen3": "chatml", "smollm2": "chatml", "smollm3": "chatml", "llama3": "llama3", "gemma2": "gemma", "gemma3": "gemma",
	"mistral-v3": "mistral-v3", "mistral-v7": "mistral-v7-tekken", "phi3": "phi3", "phi4": "phi4",
	"deepseek-r1": "deepseek3", "olmo2": "zephyr",
}

// TestMeasureTemplateEngines is the measurement behind rendering with a Jinja
// engine (docs/models.md): over the reference renderings it counts how many
// deepconf's templates reproduce byte for byte (all must), and how many
// llama.cpp's built-in templates do, also after the BOS token that
// llama.cpp leaves to the tokenizer is put in front.
func TestMeasureTemplateEngines(t *testing.T) {
	if err := testmodel.LoadLlama(context.Background(), nil); err != nil {
		t.Skipf("llama.cpp: %v", err)
	}
	var jinja, exact, withBOS int
	cases := chat.ReferenceCases()
	for _, r := range cases {
		tmpl, err := chat.Builtin(r.Family)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.BOS = r.BOS
		got, err := tmpl.Render(engine.Prompt{System: r.System, User: r.User, Thinking: r.Thinking})
		if err == nil && got == r.Want {
			jinja++
		} else {
			t.Errorf("%s: deepconf renders %q", r.Model, got)
		}
		var msgs []llama.ChatMessage
		if r.System != "" {
			msgs = append(msgs, llama.NewChatMessage("system", r.System))
		}
		msgs = append(msgs, llama.NewChatMessage("user", r.User))
		buf := make([]byte, 1<<14)
		n := llama.ChatApplyTemplate(llamaCppNames[r.Family], msgs, true, buf)
		out := ""
		if n > 0 {
			out = string(buf[:n])
		}
		switch {
		case out == r.Want:
			exact++
		case r.BOS+out == r.Want:
			withBOS++
		default:
			t.Logf("llama.cpp %s for %s (%s): %q", llamaCppNames[r.Family], r.Model, strings.ReplaceAll(r.User, "\n", `\n`), out)
		}
	}
	t.Logf("%d reference renderings: deepconf %d exact; llama.cpp built-in templates %d exact, %d more with the BOS token added", len(cases), jinja, exact, withBOS)
}
