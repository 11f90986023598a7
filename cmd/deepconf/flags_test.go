package main

import (
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestFlagRanges: every out-of-range or unknown value of a numeric or
// enumerated flag, of every command, stops the command before it does
// anything, with the flag's name and its valid range in the error; so do
// the rules between flags that the libraries check (named by their
// flags). Nothing is written (the commands run in an empty directory).
func TestFlagRanges(t *testing.T) {
	t.Chdir(t.TempDir())
	run := func(args ...string) []string { return append([]string{"run", "--model", "test:tiny"}, args...) }
	tests := []struct {
		args []string
		want string
	}{
		// run: the cases first.
		{run("--parallel", "0"), "--parallel 0: must be in [1, 1024]"},
		{run("--parallel", "-2"), "--parallel -2: must be in [1, 1024]"},
		{run("--num-instances", "-1"), "--num-instances -1: must be ≥ 0"},
		{run("--threads", "0"), "--threads 0: must be in [1, 1024]"},
		{run("--threads", "-3"), "--threads -3: must be in [1, 1024]"},
		{run("--max-traces", "0"), "--max-traces 0: must be ≥ 1"},
		{run("--max-traces", "2"), "--max-traces 2: must be ≥ --min-traces 4"},
		{run("--policy", "seed", "--min-traces", "5", "--max-traces", "3"), "--max-traces 3: must be ≥ --min-traces 5"},
		{run("--min-tokens", "4", "--window", "16"), "--min-tokens 4: must be ≥ --window 16"},
		{run("--min-traces", "0"), "--min-traces 0: must be ≥ 1"},
		{run("--concurrency", "-1"), "--concurrency -1: must be in [0, 1024]"},
		{run("--prompts", "-1"), "--concurrency -1: must be in [0, 1024]"},
		{run("--max-inflight", "0"), "--parallel 0: must be in [1, 1024]"},
		{run("--ctx", "-5"), "--ctx -5: must be in [0, 1048576]"},
		{run("--max-tokens", "0"), "--max-tokens 0: must be in [1, 1048576]"},
		{run("--logprobs-k", "21"), "--logprobs-k 21: must be in [1, 20]"},
		{run("--k", "0"), "--logprobs-k 0: must be in [1, 20]"},
		{run("--top-p", "0"), "--top-p 0: must be in (0, 1]"},
		{run("--top-p", "1.5"), "--top-p 1.5: must be in (0, 1]"},
		{run("--top-k", "-1"), "--top-k -1: must be ≥ 0"},
		{run("--temperature", "-0.1"), "--temperature -0.1: must be ≥ 0"},
		{run("--temperature", "NaN"), "--temperature NaN: must be ≥ 0"},
		{run("--temperature", "Inf"), "--temperature Inf: must be ≥ 0"},
		{run("--tau", "0"), "--tau 0: must be in (0, 1]"},
		{run("--keep", "1.5"), "--keep 1.5: must be in (0, 1]"},
		{run("--percentile", "101"), "--percentile 101: must be in [0, 100]"},
		{run("--percentile", "100"), "--percentile 100: must be in [0, 100) for the deepconf policy"},
		{run("--window", "0"), "--window 0: must be ≥ 1"},
		{run("--min-voters", "0"), "--min-voters 0: must be ≥ 1"},
		{run("--instance-parallel", "0"), "--instance-parallel 0: must be ≥ 1"},
		{run("--traces", "0"), "--traces 0: must be ≥ 1"},
		{run("--gpu-layers", "-2"), "--gpu-layers -2: must be ≥ -1"},
		{run("--policy", "greedy"), `--policy "greedy": want deepconf, offline, fixed, single or prototype`},
		{run("--aggregate", "mean"), `--aggregate "mean": want majority, weighted or top`},
		{run("--metric", "max"), `--metric "max": want lowest_group, bottom, tail or mean`},
		{run("--device", "tpu"), `--device "tpu": want cpu or cuda`},
		{run("--api-mode", "responses"), `--api-mode "responses": want chat or completions`},
		{run("--endpoint", "localhost:8000"), `--endpoint "localhost:8000": want an http:// or https:// URL`},
		{run("--shard", "2/2"), "--shard"},
		{run("--detector", "judge:"), `--detector "judge:": give the judge's model`},
		{run("--detector", "regex"), "--detector"},
		{run("--harm-detector", "patterns"), `--harm-detector: harm detector "patterns": want "judge:"<model>`},
		{run("--harm-detector", "judge:test:tiny"), "--harm-detector: harm detector \"judge:test:tiny\": cannot tell the judge format from the model name"},
		{run("--harm-detector", "judge:https://x/v1"), "--harm-detector: harm detector \"judge:https://x/v1\": give the judge's model"},
		{run("--harm-judge-format", "llamaguard3"), `--harm-detector: harm detector "": want "judge:"<model>`},
		{run("--harm-detector", "judge:test:tiny", "--harm-judge-format", "llamaguard"), `--harm-judge-format "llamaguard": want llamaguard3, wildguard or qwen3guard`},
		{[]string{"analyze", ".", "--outcome", "both"}, `--outcome "both": want prompt-harm or response-harm`},
		{run("--connect-timeout", "0s"), "--connect-timeout 0s: must be in [1s, 10m0s]"},
		{run("--reasoning-delimiters", "<think>"), "--reasoning-delimiters"},
		{run("--seed", "-1"), "--seed -1: want an integer in [0, 18446744073709551615]"},
		// generate
		{[]string{"generate", "--prompt", "x", "--traces", "0"}, "--traces 0: must be in [1, 1024]"},
		{[]string{"generate", "--prompt", "x", "--n", "0"}, "--traces 0: must be in [1, 1024]"},
		{[]string{"generate", "--prompt", "x", "--window", "0"}, "--window 0: must be ≥ 1"},
		{[]string{"generate", "--prompt", "x", "--threads", "0"}, "--threads 0: must be in [1, 1024]"},
		{[]string{"generate"}, "--prompt: give the prompt"},
		// analyze, report, compare
		{[]string{"analyze", ".", "--bootstrap", "0"}, "--bootstrap 0: must be in [1, 10000000]"},
		{[]string{"analyze", ".", "--risk-bins", "0"}, "--risk-bins 0: must be in [1, 1000]"},
		{[]string{"analyze", ".", "--max-traces", "-1"}, "--max-traces -1: must be ≥ 0"},
		{[]string{"analyze", ".", "--level", "1"}, "--level 1: must be in (0, 1)"},
		{[]string{"analyze", ".", "--scoring", "both2"}, `--scoring "both2": want refusal, prototype or both`},
		{[]string{"analyze", ".", "--baseline-traces", "-1"}, "--baseline-traces -1: must be ≥ 0"},
		{[]string{"report", ".", "--max-examples", "-1"}, "--max-examples -1: must be ≥ 0"},
		{[]string{"report", ".", "--baseline-traces", "-2"}, "--baseline-traces -2: must be ≥ 0"},
		{[]string{"compare", ".", "--level", "0"}, "--level 0: must be in (0, 1)"},
		// sweep
		{[]string{"sweep", ".", "--min-traces", "0"}, "--min-traces 0: must be ≥ 1"},
		{[]string{"sweep", ".", "--warmup", "2,0"}, "--min-traces 2,0: 0: must be ≥ 1"},
		{[]string{"sweep", ".", "--max-traces", "x"}, "--max-traces x: want an integer"},
		{[]string{"sweep", ".", "--percentile", "101"}, "--percentile 101: must be in [0, 100]"},
		{[]string{"sweep", ".", "--eta", "0"}, "--eta 0: must be in (0, 1]"},
		{[]string{"sweep", ".", "--tau", "2"}, "--tau 2: must be in (0, 1]"},
		{[]string{"sweep", ".", "--window", "0"}, "--window 0: must be ≥ 1"},
		{[]string{"sweep", ".", "--min-voters", "0"}, "--min-voters 0: must be ≥ 1"},
		{[]string{"sweep", ".", "--mode", "live"}, `--mode "live": want replay or prototype`},
		{[]string{"sweep", ".", "--seed-sim", "all"}, `--prototype-sim "all": want threshold, comprehensive or both`},
		{[]string{"sweep", ".", "--level", "2"}, "--level 2: must be in (0, 1)"},
		// refusal-eval, refusal-train
		{[]string{"refusal-eval", "--limit", "-1"}, "--limit -1: must be ≥ 0"},
		{[]string{"refusal-eval", "--rules", "-1"}, "--rules -1: must be ≥ 0"},
		{[]string{"refusal-eval", "--judge-max-tokens", "0"}, "--judge-max-tokens 0: must be in [1, 1048576]"},
		{[]string{"refusal-eval", "--judge-format", "llamaguard"}, `--judge-format "llamaguard": want wildguard or qwen3guard`},
		{[]string{"refusal-eval", "--concurrency", "-1"}, "--concurrency -1: must be in [0, 1024]"},
		{[]string{"refusal-eval", "--parallel", "0"}, "--parallel 0: must be in [1, 1024]"},
		{[]string{"refusal-train", "--folds", "1"}, "--folds 1: must be in [2, 20]"},
		{[]string{"refusal-train", "--bits", "11"}, "--bits 11: must be in [12, 24]"},
		{[]string{"refusal-train", "--head-tokens", "1001"}, "--head-tokens 1001: must be in [0, 1000]"},
		{[]string{"refusal-train", "--char-prefix", "-1"}, "--char-prefix -1: must be in [0, 100000]"},
		{[]string{"refusal-train", "--lambda", "0"}, "--lambda 0: must be > 0"},
		{[]string{"refusal-train", "--threshold", "1"}, "--threshold 1: must be in [0, 1)"},
		// bench, models, data, setup, probe, merge
		{[]string{"bench", "engine", "--n", "0"}, "--n 0: must be in [1, 1024]"},
		{[]string{"bench", "engine", "--tokens", "0"}, "--tokens 0: must be in [1, 1048576]"},
		{[]string{"bench", "engine", "--prompt-tokens", "0"}, "--prompt-tokens 0: must be in [1, 1048576]"},
		{[]string{"bench", "engine", "--repeat", "0"}, "--repeat 0: must be in [1, 1000]"},
		{[]string{"bench", "engine", "--logprobs-k", "0"}, "--logprobs-k 0: must be in [1, 20]"},
		{[]string{"bench", "engine", "--window", "0"}, "--window 0: must be ≥ 1"},
		{[]string{"models", "gen", "--shape", "tiny", "-o", "m.gguf", "--threads", "-1"}, "--threads -1: must be in [0, 1024]"},
		{[]string{"models", "gen", "--shape", "tiny", "-o", "m.gguf", "--context-length", "0"}, "--context-length 0: must be in [1, 16777216]"},
		{[]string{"data", "show", "toxicchat", "-n", "-1"}, "--num -1: must be ≥ 0"},
		{[]string{"data", "show", "synthetic", "--synthetic-size", "0"}, "--synthetic-size 0: must be in [1, 1000000]"},
		{[]string{"data", "show", "toxicchat", "--format", "xml"}, `--format "xml": want csv, tsv, jsonl or parquet`},
		{[]string{"setup", "--device", "tpu"}, `--device "tpu": want cpu or cuda`},
		{[]string{"probe", "--endpoint", "http://127.0.0.1:1", "--logprobs-k", "21"}, "--logprobs-k 21: must be in [1, 20]"},
		{[]string{"probe", "--endpoint", "http://127.0.0.1:1", "--top-logprobs", "0"}, "--logprobs-k 0: must be in [1, 20]"},
		{[]string{"probe", "--endpoint", "http://127.0.0.1:1", "--mode", "x"}, `--api-mode "x": want chat or completions`},
		{[]string{"probe", "--endpoint", "127.0.0.1:1"}, `--endpoint "127.0.0.1:1": want an http:// or https:// URL`},
		{[]string{"merge", "."}, "-o/--output: give the merged run directory"},
	}
	for _, tt := range tests {
		_, _, err := execute(newRootCmd(), tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
	if entries, _ := os.ReadDir("."); len(entries) > 0 {
		t.Errorf("bad flags wrote %v", entries)
	}
}

// TestFlagAliases: the old names of renamed flags keep working as hidden
// aliases (the prototype's run flags among them), and the help shows the
// current names only.
func TestFlagAliases(t *testing.T) {
	tests := []struct {
		cmd       func() *cobra.Command
		args      []string
		flag, val string
	}{
		{newRunCmd, []string{"--output-dir", "o"}, "output", "o"},
		{newRunCmd, []string{"--output", "o"}, "output", "o"},
		{newRunCmd, []string{"-o", "o"}, "output", "o"},
		{newRunCmd, []string{"--k", "5"}, "logprobs-k", "5"},
		{newRunCmd, []string{"--prompts", "3"}, "concurrency", "3"},
		{newRunCmd, []string{"--max-inflight", "16"}, "parallel", "16"},
		{newRunCmd, []string{"--warmup", "2", "--budget", "8"}, "max-traces", "8"},
		{newGenerateCmd, []string{"--n", "2", "--k", "3"}, "traces", "2"},
		{newAnalyzeCmd, []string{"--out", "o"}, "output", "o"},
		{newReportCmd, []string{"--out", "r.html"}, "output", "r.html"},
		{newCompareCmd, []string{"--out", "c.md"}, "output", "c.md"},
		{newSweepCmd, []string{"--warmup", "2,4", "--budget", "8", "--percentiles", "50,90", "--out", "s.csv"}, "min-traces", "[2,4]"},
		{newSweepCmd, []string{"--percentiles", "50,90"}, "percentile", "[50,90]"},
		{newRefusalEvalCmd, []string{"--out", "d", "--prompts", "2"}, "concurrency", "2"},
		{newRefusalTrainCmd, []string{"--out", "m.model"}, "output", "m.model"},
		{newProbeCmd, []string{"--mode", "completions", "--top-logprobs", "5"}, "api-mode", "completions"},
		{newProbeCmd, []string{"--top-logprobs", "5"}, "logprobs-k", "5"},
		// The prototype's CLI name and its older name "seed"; policy and
		// scoring store "seed", the value run.json and analysis.json have.
		{newRunCmd, []string{"--policy", "prototype"}, "policy", "seed"},
		{newRunCmd, []string{"--policy", "seed"}, "policy", "seed"},
		{newAnalyzeCmd, []string{"--scoring", "prototype"}, "scoring", "seed"},
		{newAnalyzeCmd, []string{"--scoring", "seed"}, "scoring", "seed"},
		{newSweepCmd, []string{"--mode", "seed"}, "mode", "prototype"},
		{newSweepCmd, []string{"--seed-sim", "threshold"}, "prototype-sim", "threshold"},
	}
	for _, tt := range tests {
		c := tt.cmd()
		if err := c.ParseFlags(tt.args); err != nil {
			t.Errorf("%s %v: %v", c.Name(), tt.args, err)
			continue
		}
		if got := c.Flags().Lookup(tt.flag).Value.String(); got != tt.val {
			t.Errorf("%s %v: --%s = %q, want %q", c.Name(), tt.args, tt.flag, got, tt.val)
		}
	}
	// The prototype's command line.
	c := newRunCmd()
	if err := c.ParseFlags([]string{"--model", "m.gguf", "--benchmark", "xstest", "--num-instances", "20", "--min-traces", "3", "--max-traces", "10", "--no-early-stopping", "--output", "out"}); err != nil {
		t.Fatal(err)
	}
	help, _, _ := execute(newRootCmd(), "run", "--help")
	for _, old := range []string{"--output-dir", "--k ", "--prompts", "--max-inflight", "--warmup", "--budget"} {
		if strings.Contains(help, old) {
			t.Errorf("run --help shows the old name %s", old)
		}
	}
}

// TestHelpExamples: every command's help has examples, and run's explains
// the parallelism model.
func TestHelpExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.HasParent() && c.Example == "" {
			t.Errorf("%s has no examples", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd())
	help, _, _ := execute(newRootCmd(), "run", "--help")
	for _, want := range []string{"Parallelism", "--parallel N", "--concurrency N", "--threads N", "--instance-parallel"} {
		if !strings.Contains(help, want) {
			t.Errorf("run --help lacks %q", want)
		}
	}
}
