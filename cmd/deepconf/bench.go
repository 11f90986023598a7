package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/engine/llamacpp/bench"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/spf13/cobra"
)

// newBenchCmd returns the "bench" command, which groups speed measurements.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "bench",
		Short:   "Measure the speed of deepconf's components",
		Example: `  deepconf bench engine --threads 2 --n 1,4,8`,
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newBenchEngineCmd())
	return cmd
}

// benchEngineModel is the default model of "bench engine": the generated
// random-weight model of the Qwen3-0.6B shape, quantized to Q8_0.
const benchEngineModel = "test:qwen3-0.6b"

// benchEngineOptions are the flags of "bench engine" besides the engine flags.
type benchEngineOptions struct {
	N            []int
	Tokens       int
	PromptTokens int
	Repeat       int
	K            int
	Window       int
	Temperature  float64
	TopP         float64
	TopK         int
	JSON         bool
}

func newBenchEngineCmd() *cobra.Command {
	var (
		ef engineFlags
		o  benchEngineOptions
	)
	cmd := &cobra.Command{
		Use:   "engine [--model M] [--n 1,4,8,16]",
		Short: "Measure the embedded llama.cpp engine: aggregate decode tokens/s and the Go side's share of each step",
		Long: `engine measures the embedded llama.cpp engine as DeepConf uses it. For each --n it opens one
prompt of about --prompt-tokens tokens (prefilled once), samples n traces of --tokens tokens in
parallel with distinct seeds, and computes the DeepConf token confidence of every token with
package confidence in the TokenFunc, as the controller does. It reports the prefill time, the
aggregate decode speed (tokens of all traces / wall time of the sampling), the time per decode
step, and the share of each step spent on the Go side: GoTime / (GoTime + DecodeTime) of the
engine's counters, where DecodeTime is the time inside llama.cpp's decode and GoTime everything
else the decode loop does while it has work (the fused top-k/log-sum-exp pass over the
vocabulary, sampling, the TokenFunc callbacks, bookkeeping).

Each n is measured --repeat times on a fresh prompt; the table shows the median run (and the
range of tokens/s), --json every run. One short unreported trace warms the engine up first.
The default model is a generated model with random weights of the Qwen3-0.6B shape (Q8_0),
written to the cache on first use; decode speed does not depend on the weight values.`,
		Example: `  deepconf bench engine --threads 2 --n 1,4,8,16
  deepconf bench engine --model Qwen/Qwen3-0.6B --n 8 --tokens 256 --repeat 5 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchEngine(cmd.Context(), cmd, &ef, o)
		},
	}
	fs := cmd.Flags()
	ef.register(fs)
	fs.Lookup("model").DefValue = benchEngineModel
	ef.Model = benchEngineModel
	ef.Prompts = 1
	fs.Lookup("parallel").DefValue = "the largest --n"
	fs.Lookup("parallel").Usage = "traces decoded together in one batch; must be ≥ every --n"
	ef.Parallel = 0
	for _, name := range []string{"endpoint", "api-key", "api-mode", "connect-timeout", "first-byte-timeout", "idle-timeout"} {
		fs.MarkHidden(name) // servers are not measured here
	}
	fs.Lookup("ctx").Usage = "context per sequence in tokens (0: the prompt + --tokens, rounded up to a multiple of 256)"
	cliflag.Ints(fs, &o.N, "n", []int{1, 4, 8, 16}, cliflag.Between(1, maxParallel), "numbers of parallel traces to measure")
	cliflag.Int(fs, &o.Tokens, "tokens", 64, cliflag.Between(1, maxContext), "generated tokens per trace")
	cliflag.Int(fs, &o.PromptTokens, "prompt-tokens", 173, cliflag.Between(1, maxContext), "approximate length of the prompt in tokens, chat template included")
	cliflag.Int(fs, &o.Repeat, "repeat", 3, cliflag.Between(1, 1000), "measurements per n")
	cliflag.Int(fs, &o.K, "logprobs-k", engine.MaxTopLogprobs, cliflag.Between(1, engine.MaxTopLogprobs), "top log-probabilities per token for the token confidence")
	cliflag.Int(fs, &o.Window, "window", 16, cliflag.AtLeast(1), "group window of the confidence tracker")
	cliflag.Float(fs, &o.Temperature, "temperature", 0.6, cliflag.AtLeast(0), "sampling temperature")
	cliflag.Float(fs, &o.TopP, "top-p", 0.95, cliflag.Unit, "nucleus sampling mass")
	cliflag.Int(fs, &o.TopK, "top-k", 20, cliflag.AtLeast(0), "top-k sampling (0: off)")
	fs.BoolVar(&o.JSON, "json", false, "print machine-readable results")
	cliflag.Aliases(fs, engineAliases(), map[string]string{"k": "logprobs-k"})
	return cmd
}

func runBenchEngine(ctx context.Context, cmd *cobra.Command, ef *engineFlags, o benchEngineOptions) error {
	if err := ef.check(); err != nil {
		return err
	}
	if len(ef.Endpoints) > 0 {
		return errors.New("bench engine measures the embedded llama.cpp engine; it does not take --endpoint")
	}
	maxN := slices.Max(o.N)
	if ef.Parallel == 0 {
		ef.Parallel = maxN
	} else if ef.Parallel < maxN {
		return fmt.Errorf("--parallel %d is smaller than --n %d: the engine must decode all n traces in one batch", ef.Parallel, maxN)
	}
	if ef.Ctx <= 0 {
		// A few tokens of slack: the prompt may exceed --prompt-tokens by
		// the last word's tokens.
		ef.Ctx = (o.PromptTokens + o.Tokens + 64 + 255) / 256 * 256
	}
	sampling := engine.Sampling{
		Temperature: o.Temperature,
		TopP:        o.TopP,
		TopK:        o.TopK,
		MaxTokens:   o.Tokens,
		TopLogprobs: o.K,
	}
	if err := sampling.Validate(); err != nil {
		return err
	}
	log := cmd.ErrOrStderr()
	eng, err := ef.openEngine(ctx, o.K, o.Tokens, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	e, ok := eng.(*llamacpp.Engine)
	if !ok {
		return fmt.Errorf("bench engine needs the embedded llama.cpp engine, got %s", eng.Info().Name)
	}
	bo := bench.Options{N: o.N, Repeat: o.Repeat, PromptTokens: o.PromptTokens, Sampling: sampling, Window: o.Window}
	if !o.JSON {
		bo.Log = log
	}
	rep, err := bench.Measure(ctx, e, bo)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return bench.WriteTable(out, rep)
}
