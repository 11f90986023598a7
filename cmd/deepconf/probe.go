package main

import (
	"encoding/json"
	"log/slog"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/openai"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/spf13/cobra"
)

// newProbeCmd returns the "probe" command, which runs the start-up
// capability probe of engine/openai against OpenAI-compatible servers and
// prints the engine description with the findings as JSON.
func newProbeCmd() *cobra.Command {
	var (
		cfg       openai.Config
		mode      string
		endpoints []string
		timeouts  serverTimeouts
	)
	cmd := &cobra.Command{
		Use:   "probe --endpoint URL [--endpoint URL]... [--model NAME]",
		Short: "Check that OpenAI-compatible servers stream the logprobs DeepConf needs",
		Long: `probe identifies each server (vLLM, SGLang, llama.cpp's llama-server, Ollama), confirms the
model name with GET /v1/models, and streams a short generation with top_logprobs = k (--logprobs-k). It fails
when the server returns no logprobs or no top logprobs, and prints the engine description with
what it found: how many top logprobs come back, whether the first one is the sampled token,
null, non-finite and -9999 values, and whether the values are raw or temperature-processed.

The API key comes from --api-key, else $DEEPCONF_API_KEY, else $OPENAI_API_KEY (prefer the
environment: command lines are visible to other users). It is never printed.

A server that does not connect within --connect-timeout, send its first event within
--first-byte-timeout or continue a stream within --idle-timeout fails with that timeout named;
while a request waits, a "waiting for" line is logged every 30 s. The probe does not retry a
timed-out request.`,
		Example: `  deepconf probe --endpoint http://gpu1:8000/v1 --model Qwen/Qwen3-8B
  deepconf probe --endpoint http://localhost:11434 --model qwen3:0.6b --logprobs-k 5
  deepconf probe --endpoint http://localhost:8080 --api-mode completions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ef := engineFlags{Endpoints: endpoints, Timeouts: timeouts}
			if err := ef.check(); err != nil {
				return err
			}
			if err := timeouts.apply(&cfg); err != nil {
				return err
			}
			cfg.Endpoints = endpoints
			cfg.Mode = openai.Mode(mode)
			cfg.SkipPrefill = true
			cfg.Logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))
			e, err := openai.New(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer e.Close()
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(e.Info())
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&endpoints, "endpoint", nil, "server base URL, with or without /v1 (repeatable)")
	f.StringVar(&cfg.Model, "model", "", "server-side model name (default: the server's only model)")
	f.StringVar(&cfg.APIKey, "api-key", "", "API key (default $DEEPCONF_API_KEY, then $OPENAI_API_KEY)")
	cliflag.Enum(f, &mode, "api-mode", string(openai.Chat), []string{string(openai.Chat), string(openai.Completions)}, "API: chat (/v1/chat/completions) or completions (/v1/completions, client-side template)")
	cliflag.Int(f, &cfg.TopLogprobs, "logprobs-k", engine.MaxTopLogprobs, cliflag.Between(1, engine.MaxTopLogprobs), "k, the number of top logprobs to request")
	timeouts.register(f)
	cliflag.Aliases(f, map[string]string{"mode": "api-mode", "top-logprobs": "logprobs-k"})
	cmd.MarkFlagRequired("endpoint")
	return cmd
}
