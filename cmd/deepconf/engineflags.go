package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/engines"
	"github.com/deepconf/deepconf/engine/openai"
	"github.com/deepconf/deepconf/hub"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/deepconf/deepconf/modelinfo"
	"github.com/spf13/pflag"
)

// engineFlags are the flags that choose and configure an engine. They are
// shared by every command that samples from a model.
type engineFlags struct {
	Model     string
	Quant     string
	Endpoints []string
	APIKey    string
	APIMode   string
	Device    string
	GPULayers int
	Threads   int
	// Parallel is the number of traces generated at once: the embedded
	// engine's batch, or the requests in flight per --endpoint server.
	Parallel  int
	Ctx       int
	KVUnified bool
	Verbose   bool
	// Prompts is the number of prompts open at once in the embedded
	// engine: the command's concurrency, not a flag (default 1).
	Prompts int
	// Timeouts do not change results, so run.json does not record them.
	Timeouts serverTimeouts
	// ChatTemplate is --chat-template (chat.Select), Reasoning
	// --reasoning-delimiters.
	ChatTemplate string
	Reasoning    string
}

// defaultModel is the main job's default: the real Qwen3-0.6B from the Hub.
const defaultModel = "Qwen/Qwen3-0.6B"

// Limits of the engine flags.
const (
	// maxParallel bounds --parallel and --concurrency.
	maxParallel = 1024
	// maxContext bounds --ctx and --max-tokens (tokens per sequence).
	maxContext = 1 << 20
)

// engineAliases are the old names of the engine flags.
func engineAliases() map[string]string {
	return map[string]string{"max-inflight": "parallel"}
}

func (f *engineFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Model, "model", defaultModel, "model: a local .gguf file, a Hugging Face id (Qwen/Qwen3-0.6B → Qwen/Qwen3-0.6B-GGUF; any repository of GGUF files, ORG/NAME:QUANT), or test:tiny | test:tiny-FAMILY | test:tiny-qwen3vocab | test:qwen3-0.6b for a generated random-weight model; with --endpoint, the server's model name")
	fs.StringVar(&f.Quant, "quant", hub.DefaultQuant, "quantization file to pick from a Hugging Face GGUF repository")
	fs.StringArrayVar(&f.Endpoints, "endpoint", nil, "OpenAI-compatible server base URL (vLLM, llama.cpp server, Ollama, SGLang); repeat for several servers")
	fs.StringVar(&f.APIKey, "api-key", "", "API key for --endpoint servers (default $DEEPCONF_API_KEY or $OPENAI_API_KEY; never logged)")
	cliflag.Enum(fs, &f.APIMode, "api-mode", "chat", []string{"chat", "completions"}, "server API: chat (/v1/chat/completions) or completions (/v1/completions, prompt templated client-side)")
	cliflag.Enum(fs, &f.Device, "device", "cpu", []string{"cpu", "cuda"}, "embedded engine device: cpu or cuda")
	cliflag.Int(fs, &f.GPULayers, "gpu-layers", -1, cliflag.AtLeast(-1), "layers to offload with --device cuda (-1: all)")
	cliflag.Int(fs, &f.Threads, "threads", runtime.NumCPU(), cliflag.Between(1, 1024), "CPU threads of the embedded engine")
	cliflag.Int(fs, &f.Parallel, "parallel", 8, cliflag.Between(1, maxParallel), "traces generated at once: the embedded engine's batch, or the requests in flight to each --endpoint server")
	cliflag.Int(fs, &f.Ctx, "ctx", 0, cliflag.Between(0, maxContext), "context per sequence in tokens for the embedded engine (0: max tokens + 1024)")
	fs.BoolVar(&f.KVUnified, "kv-unified", false, "one shared KV cache (faster, but traces are no longer bit-reproducible)")
	fs.BoolVar(&f.Verbose, "verbose-engine", false, "show llama.cpp's log (model loading and errors)")
	f.Timeouts.register(fs)
	fs.StringVar(&f.ChatTemplate, "chat-template", "", "chat template: the model's own (default; it must be a tested family), a family name ("+strings.Join(chat.FamilyNames(), ", ")+"), \"model\" for the model's own template untested, or a file (.jinja, tokenizer_config.json, .gguf)")
	fs.StringVar(&f.Reasoning, "reasoning-delimiters", "", "markers of the model's reasoning, OPEN,CLOSE (default: the template family's, such as <think>,</think>)")
}

// check validates what the flags' own ranges cannot: the server timeouts,
// the reasoning delimiters and the endpoints' URLs. Commands call it before
// they start.
func (f *engineFlags) check() error {
	if err := f.Timeouts.apply(&openai.Config{}); err != nil {
		return err
	}
	if _, err := f.reasoning(); err != nil {
		return err
	}
	for _, ep := range f.Endpoints {
		if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--endpoint %q: want an http:// or https:// URL such as http://localhost:8000/v1", ep)
		}
	}
	return nil
}

// concurrency resolves a command's --concurrency (0: enough to keep the
// engine busy: --parallel, or --parallel for each --endpoint server).
func (f *engineFlags) concurrency(conc int) int {
	if conc > 0 {
		return conc
	}
	return max(f.Parallel*max(len(f.Endpoints), 1), 1)
}

// serverTimeouts are the --endpoint client's timeout flags, shared by the
// commands that talk to servers.
type serverTimeouts struct {
	Connect, FirstByte, Idle time.Duration
}

func (t *serverTimeouts) register(fs *pflag.FlagSet) {
	fs.DurationVar(&t.Connect, "connect-timeout", openai.DefaultConnectTimeout, "longest wait to connect to an --endpoint server (DNS, TCP, TLS); 1s..10m")
	fs.DurationVar(&t.FirstByte, "first-byte-timeout", openai.DefaultFirstByteTimeout, "longest wait for the first streamed event of an --endpoint request (the server's queue and the prompt's prefill); 1s..24h")
	fs.DurationVar(&t.Idle, "idle-timeout", openai.DefaultIdleTimeout, "longest gap between two streamed events of an --endpoint request; 1s..24h")
}

// apply range-checks the flags and sets them in cfg.
func (t serverTimeouts) apply(cfg *openai.Config) error {
	for _, c := range []struct {
		flag   string
		v      time.Duration
		lo, hi time.Duration
		set    *time.Duration
	}{
		{"connect-timeout", t.Connect, time.Second, 10 * time.Minute, &cfg.ConnectTimeout},
		{"first-byte-timeout", t.FirstByte, time.Second, 24 * time.Hour, &cfg.FirstByteTimeout},
		{"idle-timeout", t.Idle, time.Second, 24 * time.Hour, &cfg.IdleTimeout},
	} {
		if c.v < c.lo || c.v > c.hi {
			return fmt.Errorf("--%s %v: must be in [%v, %v]", c.flag, c.v, c.lo, c.hi)
		}
		*c.set = c.v
	}
	return nil
}

// reasoning parses --reasoning-delimiters.
func (f *engineFlags) reasoning() (chat.Delimiters, error) {
	if f.Reasoning == "" {
		return chat.Delimiters{}, nil
	}
	d, err := chat.ParseDelimiters(f.Reasoning)
	if err != nil {
		return d, fmt.Errorf("--reasoning-delimiters: %w", err)
	}
	return d, nil
}

// isTestModel reports whether the model is a generated random-weight model.
func (f *engineFlags) isTestModel() bool { return strings.HasPrefix(f.Model, modelinfo.TestPrefix) }

// openEngine opens the engine the flags describe (engines.Open). maxTokens
// sizes the embedded engine's context when --ctx is 0.
func (f *engineFlags) openEngine(ctx context.Context, k, maxTokens int, log io.Writer) (engine.Engine, error) {
	var timeouts openai.Config
	if err := f.Timeouts.apply(&timeouts); err != nil {
		return nil, err
	}
	reasoning, err := f.reasoning()
	if err != nil {
		return nil, err
	}
	model := f.Model
	if len(f.Endpoints) > 0 && model == defaultModel {
		model = "" // let the server name its only model, or fail clearly
	}
	return engines.Open(ctx, engines.Config{
		Model: model, Quant: f.Quant, Endpoints: f.Endpoints, APIKey: f.APIKey, APIMode: openai.Mode(f.APIMode),
		ConnectTimeout: timeouts.ConnectTimeout, FirstByteTimeout: timeouts.FirstByteTimeout, IdleTimeout: timeouts.IdleTimeout,
		Parallel: f.Parallel, Device: nativelib.Device(f.Device), GPULayers: f.GPULayers, Threads: f.Threads, Prompts: f.Prompts,
		ContextSize: f.Ctx, KVUnified: f.KVUnified, Verbose: f.Verbose, ChatTemplate: f.ChatTemplate, Reasoning: reasoning,
		TopLogprobs: k, MaxTokens: maxTokens, Log: log,
	})
}

// hubFetch returns the benchmark.FetchFunc that downloads dataset files
// from the Hugging Face Hub into its cache.
func hubFetch(log io.Writer) (benchmark.FetchFunc, error) {
	c, err := hub.NewFromEnv(log)
	if err != nil {
		return nil, err
	}
	return c.FetchDataset, nil
}
