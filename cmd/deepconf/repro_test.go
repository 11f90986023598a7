package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
)

// TestRunReproducibleAtDefaults runs the same command twice at the default
// threads, parallelism and concurrency and wants byte-identical traces and
// predictions (docs/reproducibility.md). The run provokes what made the
// embedded engine's output depend on timing: eight instances in flight, whose
// traces share decode steps in whatever combination the scheduler gives;
// traces of different lengths (stopped early by the threshold, by the model,
// at the 256-token cap) leaving holes in the batch, and an adaptive phase
// after the warm-up (--min-voters 6) that ends with a consensus stop; prompts
// long enough (up to 1,390 tokens, hence --ctx 2048) to be prefilled in
// chunks beside running traces, and attention over hundreds of KV cells. The second run has GOMAXPROCS=1, which
// changes how the instances' goroutines and the engine's loop interleave.
func TestRunReproducibleAtDefaults(t *testing.T) {
	if testing.Short() {
		t.Skip("two runs of 8 instances")
	}
	bin := buildDeepconf(t)
	data := shareddata.Path(t, "toxicchat")
	run := func(out string, env ...string) {
		t.Helper()
		cmd := exec.Command(bin, "run", "--model", "test:tiny", "--benchmark", "toxicchat", "--data", data,
			"--num-instances", "8", "--ctx", "2048", "--seed", "7", "--min-voters", "6", "--percentile", "50", "--no-analyze", "--output-dir", out)
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
	}
	a, b := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	run(a)
	run(b, "GOMAXPROCS=1")
	for _, f := range []string{record.TracesFile, record.PredictionsFile} {
		want, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(b, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs between two runs of the same command (%d vs %d bytes)", f, len(got), len(want))
			diffLines(t, want, got)
		}
	}
	var r record.Run
	raw, err := os.ReadFile(filepath.Join(a, record.RunFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.Engine == nil || !r.Engine.Reproducible || r.Engine.ReproducibleNote == "" {
		t.Errorf("run.json engine: %+v, want reproducible with a note", r.Engine)
	}
}
