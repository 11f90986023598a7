package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func runBench(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return execute(newBenchCmd(), args...)
}

func TestBenchEngineJSON(t *testing.T) {
	out, stderr, err := runBench(t, "engine", "--model", "test:tiny", "--threads", "2",
		"--n", "1,3", "--tokens", "6", "--prompt-tokens", "40", "--repeat", "2", "--json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	var rep benchEngineReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("output is not the JSON report: %v\n%s", err, out)
	}
	if rep.Engine.Name != "llama.cpp" || rep.Engine.Threads != 2 {
		t.Errorf("engine %+v, want llama.cpp with 2 threads", rep.Engine)
	}
	// --parallel defaults to the largest n.
	if rep.Engine.Parallel != 3 {
		t.Errorf("parallel %d, want 3", rep.Engine.Parallel)
	}
	// The prompt is the shortest one reaching --prompt-tokens; the tiny
	// model's byte-level vocabulary makes a word a few tokens long.
	if rep.PromptTokens < 40 || rep.PromptTokens > 60 {
		t.Errorf("prompt of %d tokens, want about 40", rep.PromptTokens)
	}
	if rep.Sampling.TopLogprobs != 20 || rep.Sampling.MaxTokens != 6 || rep.Tokens != 6 {
		t.Errorf("sampling %+v, tokens %d", rep.Sampling, rep.Tokens)
	}
	if len(rep.Results) != 2 || rep.Results[0].N != 1 || rep.Results[1].N != 3 {
		t.Fatalf("results for n = %v, want 1 and 3", rep.Results)
	}
	for _, r := range rep.Results {
		if len(r.Runs) != 2 {
			t.Fatalf("n = %d: %d runs, want 2", r.N, len(r.Runs))
		}
		for i, run := range r.Runs {
			// A trace may end early at an end-of-generation token.
			if run.Tokens < int64(r.N) || run.Tokens > int64(6*r.N) {
				t.Errorf("n = %d run %d: %d tokens, want %d..%d", r.N, i, run.Tokens, r.N, 6*r.N)
			}
			if run.PrefillTokens != int64(rep.PromptTokens) {
				t.Errorf("n = %d run %d: %d prefill tokens, want the prompt's %d", r.N, i, run.PrefillTokens, rep.PromptTokens)
			}
			// A step per token after a trace's first, which comes
			// from the prompt's distribution; traces that start late
			// add steps.
			if run.Steps < 1 || run.Steps > int64(5*r.N) {
				t.Errorf("n = %d run %d: %d steps, want 1..%d", r.N, i, run.Steps, 5*r.N)
			}
			if run.TokensPerSecond <= 0 || run.MsPerStep <= 0 || run.DecodeMs <= 0 {
				t.Errorf("n = %d run %d: %+v", r.N, i, run)
			}
			// Linux: CPU accounting from getrusage and /proc/stat.
			if run.CPUCores == nil || *run.CPUCores <= 0 || run.OtherCores == nil || *run.OtherCores < 0 {
				t.Errorf("n = %d run %d: cpu cores %v, other cores %v", r.N, i, run.CPUCores, run.OtherCores)
			}
			if run.GoShare <= 0 || run.GoShare >= 1 {
				t.Errorf("n = %d run %d: Go share %v, want in (0, 1)", r.N, i, run.GoShare)
			}
			// The TokenFunc computed DeepConf token confidences: with
			// k = 20 top logprobs of a near-uniform 264-token
			// distribution, C is a little below −log(1/264) ≈ 5.6.
			if run.MeanConfidence < 3 || run.MeanConfidence > 8 {
				t.Errorf("n = %d run %d: mean token confidence %v, want about 5.3", r.N, i, run.MeanConfidence)
			}
		}
		found := false
		for _, run := range r.Runs {
			found = found || reflect.DeepEqual(run, r.Median)
		}
		if !found {
			t.Errorf("n = %d: median %+v is not one of the runs", r.N, r.Median)
		}
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
	if !strings.Contains(stderr, "RANDOM weights") {
		t.Errorf("stderr %q does not say the model is random", stderr)
	}
}

func TestBenchEngineErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--n", "4", "--parallel", "2"}, "--parallel 2 is smaller than --n 4"},
		{[]string{"--n", "0"}, "--n 0: must be ≥ 1"},
		{[]string{"--tokens", "0"}, "--tokens 0"},
		{[]string{"--repeat", "0"}, "--repeat 0"},
		{[]string{"--k", "21"}, "top logprobs 21"},
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
