package main

import (
	"encoding/json"
	"errors"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/spf13/cobra"
)

func newGenerateCmd() *cobra.Command {
	var (
		ef       engineFlags
		prompt   string
		system   string
		thinking bool
		n        int
		p        engine.Sampling
		window   int
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "generate --prompt TEXT",
		Short: "Sample N traces of one prompt and print every token with its log-probability and DeepConf confidence",
		Long: `generate samples --traces traces of one prompt at once (trace i with seed --seed + i) and prints
every token with its log-probability and its DeepConf token confidence (the mean negative top-k
log-probability, k = --logprobs-k), then each trace's confidences (mean, lowest group of --window
tokens, tail). It takes the engine flags of deepconf run: the embedded engine or --endpoint servers.`,
		Example: `  deepconf generate --model test:tiny --prompt "How do I pick a lock?"
  deepconf generate --model Qwen/Qwen3-0.6B --prompt "Why is the sky blue?" --traces 8 --max-tokens 64 --json
  deepconf generate --endpoint http://localhost:8000/v1 --prompt "Hello" --logprobs-k 5`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if prompt == "" {
				return errors.New("--prompt: give the prompt")
			}
			if err := ef.check(); err != nil {
				return err
			}
			ctx := cmd.Context()
			if !cmd.Flags().Changed("parallel") {
				ef.Parallel = n
			}
			e, err := ef.openEngine(ctx, p.TopLogprobs, p.MaxTokens, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer e.Close()
			traces, err := controller.Generate(ctx, e, engine.Prompt{System: system, User: prompt, Thinking: thinking}, n, p, window)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(traces)
			}
			return controller.WriteGenerated(cmd.OutOrStdout(), traces)
		},
	}
	fs := cmd.Flags()
	ef.register(fs)
	d := controller.Default(controller.PolicyDeepConf)
	fs.StringVar(&prompt, "prompt", "", "the user prompt")
	fs.StringVar(&system, "system", "", "system message")
	fs.BoolVar(&thinking, "thinking", false, "Qwen3 thinking mode")
	cliflag.Int(fs, &n, "traces", 4, cliflag.Between(1, maxParallel), "number of traces")
	cliflag.Float(fs, &p.Temperature, "temperature", d.Sampling.Temperature, cliflag.AtLeast(0), "sampling temperature")
	cliflag.Float(fs, &p.TopP, "top-p", d.Sampling.TopP, cliflag.Unit, "nucleus sampling mass")
	cliflag.Int(fs, &p.TopK, "top-k", d.Sampling.TopK, cliflag.AtLeast(0), "top-k sampling (0: off)")
	cliflag.Int(fs, &p.MaxTokens, "max-tokens", 32, cliflag.Between(1, maxContext), "most generated tokens per trace")
	cliflag.Uint64(fs, &p.Seed, "seed", 1, "seed of the first trace; trace i uses seed+i")
	cliflag.Int(fs, &p.TopLogprobs, "logprobs-k", d.Sampling.TopLogprobs, cliflag.Between(1, engine.MaxTopLogprobs), "top-k log-probabilities for the token confidence")
	cliflag.Int(fs, &window, "window", d.Window, cliflag.AtLeast(1), "group size for the trace confidences")
	fs.BoolVar(&asJSON, "json", false, "print JSON")
	cliflag.Aliases(fs, engineAliases(), map[string]string{"n": "traces", "k": "logprobs-k"})
	return cmd
}
