// Package engines opens the engine that a run, a judge or a server samples
// from, from one description (Config): the embedded llama.cpp engine
// (package engine/llamacpp) with its model resolved by
// modelinfo.ResolveModel — a GGUF file, a Hugging Face id downloaded into
// the cache, or a generated test model — or OpenAI-compatible servers
// (package engine/openai).
package engines

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/engine/openai"
	"github.com/deepconf/deepconf/hub"
	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/deepconf/deepconf/modelinfo"
)

// Config describes an engine. With Endpoints it is the servers' (Model is
// the served model's name, "" for a server's only model); without, the
// embedded engine's (Model is resolved by modelinfo.ResolveModel).
type Config struct {
	Model, Quant string
	// Servers: their base URLs, the API key, the API (openai.Chat or
	// openai.Completions) and the timeouts (zero: the defaults).
	Endpoints                                     []string
	APIKey                                        string
	APIMode                                       openai.Mode
	ConnectTimeout, FirstByteTimeout, IdleTimeout time.Duration
	// Parallel is the number of traces generated at once: the embedded
	// engine's batch, or the requests in flight to each server.
	Parallel int
	// The embedded engine: device, offloaded layers, threads, prompts
	// open at once, context per sequence (0: MaxTokens + 1024), the shared
	// KV cache, and llama.cpp's own log (Verbose).
	Device      nativelib.Device
	GPULayers   int
	Threads     int
	Prompts     int
	ContextSize int
	KVUnified   bool
	Verbose     bool
	// ChatTemplate (chat.Select) and Reasoning (zero: the template
	// family's) render the prompts; servers in chat mode render their own
	// unless ChatTemplate is set.
	ChatTemplate string
	Reasoning    chat.Delimiters
	// TopLogprobs is k of the token confidence; MaxTokens the longest
	// trace.
	TopLogprobs, MaxTokens int
	// Log receives set-up messages (downloads, warnings).
	Log io.Writer
}

// Open opens the engine c describes. The embedded engine's model file is
// hashed (engine.Info's ModelSHA256) before Open returns, so that a run can
// check its identity.
func Open(ctx context.Context, c Config) (engine.Engine, error) {
	if c.Log == nil {
		c.Log = io.Discard
	}
	if len(c.Endpoints) > 0 {
		var tmpl *chat.Template
		if c.APIMode == openai.Completions || c.ChatTemplate != "" {
			h, err := hub.NewFromEnv(c.Log)
			if err != nil {
				return nil, err
			}
			if tmpl, err = modelinfo.ServerTemplate(ctx, h, c.Model, c.ChatTemplate); err != nil {
				return nil, err
			}
		}
		return openai.New(ctx, openai.Config{
			Endpoints: c.Endpoints, Model: c.Model, APIKey: c.APIKey, Mode: c.APIMode, MaxInFlight: c.Parallel,
			TopLogprobs: c.TopLogprobs, Template: tmpl, Reasoning: c.Reasoning,
			ConnectTimeout: c.ConnectTimeout, FirstByteTimeout: c.FirstByteTimeout, IdleTimeout: c.IdleTimeout,
			Logger: slog.New(slog.NewTextHandler(c.Log, &slog.HandlerOptions{Level: slog.LevelWarn})),
		})
	}
	path, err := modelinfo.ResolveModel(ctx, c.Model, c.Quant, c.Log)
	if err != nil {
		return nil, err
	}
	n := c.ContextSize
	if n <= 0 {
		n = c.MaxTokens + 1024
	}
	e, err := llamacpp.New(ctx, llamacpp.Config{
		Model: path, Device: c.Device, GPULayers: c.GPULayers, Threads: c.Threads, Parallel: c.Parallel,
		Prompts: max(c.Prompts, 1), ContextSize: n, KVUnified: c.KVUnified, Log: c.Log, Verbose: c.Verbose,
		ChatTemplate: c.ChatTemplate, Reasoning: c.Reasoning,
	})
	if err != nil {
		return nil, err
	}
	if _, err := e.SHA256(); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}
