package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/engine/llamacpp/bench"
)

func runBench(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return execute(newBenchCmd(), args...)
}

// TestBenchEngineJSON checks the flags' wiring into bench.Measure (whose
// measurements are tested in package bench): --parallel defaults to the
// largest --n, and --json prints the report.
func TestBenchEngineJSON(t *testing.T) {
	out, stderr, err := runBench(t, "engine", "--model", "test:tiny", "--threads", "2",
		"--n", "1,3", "--tokens", "6", "--prompt-tokens", "40", "--repeat", "1", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep bench.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	if rep.Engine.Name != "llama.cpp" || rep.Engine.Threads != 2 || rep.Engine.Parallel != 3 {
		t.Errorf("engine %+v, want llama.cpp with 2 threads and parallel 3 (the largest n)", rep.Engine)
	}
	if rep.Sampling.TopLogprobs != 20 || rep.Sampling.MaxTokens != 6 || rep.Tokens != 6 || rep.Window != 16 {
		t.Errorf("sampling %+v, tokens %d, window %d", rep.Sampling, rep.Tokens, rep.Window)
	}
	if len(rep.Results) != 2 || rep.Results[0].N != 1 || rep.Results[1].N != 3 || len(rep.Results[1].Runs) != 1 {
		t.Errorf("results %+v, want one run for n = 1 and 3", rep.Results)
	}
	if strings.Contains(stderr, "n = 1, run 1 of 1") {
		t.Errorf("--json still logs the runs:\n%s", stderr)
	}
}

func TestBenchEngineTable(t *testing.T) {
	out, stderr, err := runBench(t, "engine", "--model", "test:tiny", "--n", "2", "--tokens", "4", "--repeat", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 {
		t.Fatalf("output %q", out)
	}
	header, row := strings.Fields(lines[len(lines)-2]), strings.Fields(lines[len(lines)-1])
	if header[0] != "n" || row[0] != "2" || len(row) != 12 || !strings.HasSuffix(row[6], "%") {
		t.Errorf("table\n%s\nwant a header and a row for n = 2 with the Go share in %%", out)
	}
	if !strings.Contains(stderr, "RANDOM weights") || !strings.Contains(stderr, "n = 2, run 1 of 1") {
		t.Errorf("stderr %q does not say the model is random or log the run", stderr)
	}
}

func TestBenchEngineErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--n", "4", "--parallel", "2"}, "--parallel 2 is smaller than --n 4"},
		{[]string{"--n", "0"}, "--n 0: must be in [1, 1024]"},
		{[]string{"--n", "4,0"}, "--n 4,0: 0: must be in [1, 1024]"},
		{[]string{"--tokens", "0"}, "--tokens 0"},
		{[]string{"--repeat", "0"}, "--repeat 0"},
		{[]string{"--k", "21"}, "--logprobs-k 21: must be in [1, 20]"},
		{[]string{"--endpoint", "http://127.0.0.1:1"}, "does not take --endpoint"},
	}
	for _, tt := range tests {
		args := append([]string{"engine", "--model", "test:tiny"}, tt.args...)
		_, _, err := runBench(t, args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.want)
		}
	}
}
