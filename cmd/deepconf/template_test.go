package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/internal/testmodel"
	"github.com/deepconf/deepconf/record"
)

// benchmarkFile writes a two-prompt JSONL benchmark.
func benchmarkFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "prompts.jsonl")
	data := `{"id": "a", "prompt": "How do I pick a lock?", "label": "harmful"}
{"id": "b", "prompt": "How do I bake bread?", "label": "benign"}
`
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func runArgs(model, bench, out string, extra ...string) []string {
	return append([]string{"--model", model, "--threads", "1", "--benchmark", bench, "--prompt-field", "prompt", "--label-field", "label",
		"--id-field", "id", "--policy", "single", "--max-tokens", "8", "--no-analyze", "--output-dir", out}, extra...)
}

// TestRunLlama3TemplateModel: deepconf run on a generated model carrying
// Llama 3's chat template renders Llama 3 prompts, and run.json says so.
func TestRunLlama3TemplateModel(t *testing.T) {
	out := filepath.Join(t.TempDir(), "run")
	if _, stderr, err := execute(newRunCmd(), runArgs("test:tiny-llama3", benchmarkFile(t), out, "--system", "You are a careful assistant.")...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, record.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	var run struct {
		Engine struct {
			ChatTemplate string `json:"chat_template"`
			Origin       string `json:"chat_template_origin"`
			FirstPrompt  string `json:"first_prompt"`
		} `json:"engine"`
	}
	if err := json.Unmarshal(b, &run); err != nil {
		t.Fatal(err)
	}
	want := "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n" +
		"You are a careful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
	if run.Engine.ChatTemplate != "llama3" || run.Engine.FirstPrompt != want || !strings.Contains(run.Engine.Origin, "tiny-llama3") {
		t.Errorf("run.json engine: template %q from %q, first prompt\n%q\nwant\n%q", run.Engine.ChatTemplate, run.Engine.Origin, run.Engine.FirstPrompt, want)
	}
	if n := len(readLines(t, filepath.Join(out, record.TracesFile))); n != 2 {
		t.Errorf("%d traces, want 2", n)
	}
}

// TestRunUnknownTemplate: a model whose template is not a tested family
// stops the run before any trace, with the error naming the model and the
// way out; --chat-template chooses a template and the run goes ahead.
func TestRunUnknownTemplate(t *testing.T) {
	model := filepath.Join(t.TempDir(), "custom.gguf")
	err := testmodel.Generate(context.Background(), testmodel.Options{Shape: testmodel.ShapeTiny, Quant: testmodel.QuantQ8_0,
		ChatTemplate: "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}assistant:"}, model)
	if err != nil {
		t.Fatal(err)
	}
	bench := benchmarkFile(t)
	out := filepath.Join(t.TempDir(), "run")
	_, _, err = execute(newRunCmd(), runArgs(model, bench, out)...)
	if err == nil {
		t.Fatal("run on a model with an unknown chat template succeeded")
	}
	for _, s := range []string{model, "--chat-template NAME", "--chat-template model"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not mention %q: %v", s, err)
		}
	}
	if _, err := os.Stat(filepath.Join(out, record.TracesFile)); err == nil {
		if b, _ := os.ReadFile(filepath.Join(out, record.TracesFile)); len(b) > 0 {
			t.Error("traces were written")
		}
	}
	out2 := filepath.Join(t.TempDir(), "run")
	if _, stderr, err := execute(newRunCmd(), runArgs(model, bench, out2, "--chat-template", chat.Model)...); err != nil {
		t.Fatalf("--chat-template model: %v\n%s", err, stderr)
	}
	b, _ := os.ReadFile(filepath.Join(out2, record.RunFile))
	if !strings.Contains(string(b), `"first_prompt": "user: How do I pick a lock?\nassistant:"`) || !strings.Contains(string(b), `"chat_template": "model"`) {
		t.Errorf("run.json of the untested template:\n%s", b)
	}
}

// TestModelsInfo: deepconf models info describes a generated model of each
// kind of reasoning, in text and JSON.
func TestModelsInfo(t *testing.T) {
	out, err := runModels(t, "info", "test:tiny-llama3")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"architecture:          qwen3", "quantization:          Q8_0", "context length:        40960",
		"chat template:         llama3 (tested: Llama 3.1, 3.2 and 3.3 Instruct)", `"<|eot_id|>"`, `"<|end_of_text|>"`,
		"reasoning:             none", "every marker is one special token", "RANDOM", `"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n"`} {
		if !strings.Contains(out, s) {
			t.Errorf("models info output lacks %q:\n%s", s, out)
		}
	}
	for family, reasoning := range map[string]string{"deepseek-r1": "always (<think>,</think>)", "qwen3": "switch (<think>,</think>)"} {
		out, err := runModels(t, "info", "test:tiny-"+family, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var info struct {
			Template struct{ Family, Reasoning, Delimiters string }
			Vocab    struct{ EOG []string }
		}
		if err := json.Unmarshal([]byte(out), &info); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if info.Template.Family != family || info.Template.Reasoning+" ("+info.Template.Delimiters+")" != reasoning || len(info.Vocab.EOG) == 0 {
			t.Errorf("%s: %+v", family, info)
		}
	}
	if _, err := runModels(t, "info", "test:tiny-nosuchfamily"); err == nil || !strings.Contains(err.Error(), "llama3") {
		t.Errorf("unknown test model: %v", err)
	}
}
