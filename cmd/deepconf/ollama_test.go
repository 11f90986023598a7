package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
)

// TestRunAgainstOllama runs deepconf run against a real OpenAI-compatible
// server: Ollama serving a generated real-vocabulary Qwen3 model, started by
// scripts/ollama.sh (scripts/test.sh does that and exports
// DEEPCONF_OLLAMA_URL). The files have the same format as with the embedded
// engine, and the aggressive threshold stops traces early: their streams are
// closed after fewer tokens than the budget.
func TestRunAgainstOllama(t *testing.T) {
	url, model := os.Getenv("DEEPCONF_OLLAMA_URL"), os.Getenv("DEEPCONF_OLLAMA_MODEL")
	if url == "" || model == "" {
		t.Skip("no Ollama server: run scripts/ollama.sh start and export the variables it prints (scripts/test.sh does)")
	}
	bin := buildDeepconf(t)
	data := filepath.Join(shareddata.Dir(t), "xstest")
	out := filepath.Join(t.TempDir(), "run")
	cmd := exec.Command(bin, "run", "--endpoint", url, "--model", model, "--max-inflight", "4",
		"--benchmark", "xstest", "--data", data, "--num-instances", "3",
		"--max-tokens", "32", "--window", "8", "--min-tokens", "8", "--percentile", "90", "--min-voters", "6", "--max-traces", "6",
		"--output-dir", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	preds := readLines(t, filepath.Join(out, record.PredictionsFile))
	if len(preds) != 3 {
		t.Fatalf("%d predictions, want 3", len(preds))
	}
	early := 0
	for _, l := range readLines(t, filepath.Join(out, record.TracesFile)) {
		var tr record.Trace
		if err := json.Unmarshal([]byte(l), &tr); err != nil {
			t.Fatal(err)
		}
		if len(tr.TokenConfidences) == 0 || len(tr.TokenConfidences) != len(tr.TokenLogprobs) {
			t.Errorf("trace %s/%d: %d confidences, %d logprobs", tr.InstanceID, tr.Index, len(tr.TokenConfidences), len(tr.TokenLogprobs))
		}
		if tr.Finish == record.FinishEarlyStop {
			early++
			if tr.Tokens >= 32 || tr.Label != "" {
				t.Errorf("early-stopped trace %s/%d: %d tokens, label %q", tr.InstanceID, tr.Index, tr.Tokens, tr.Label)
			}
		}
	}
	if early == 0 {
		t.Error("no trace was stopped early")
	}
	var run record.Run
	b, _ := os.ReadFile(filepath.Join(out, record.RunFile))
	if err := json.Unmarshal(b, &run); err != nil || run.Engine == nil || run.Engine.Name != "openai" {
		t.Errorf("run.json engine %+v (%v)", run.Engine, err)
	}
}
