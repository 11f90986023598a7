package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/runner"
	"github.com/deepconf/deepconf/serve"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// servePolicyFlags are the names of the policy flags (run's), which a
// request may override.
func servePolicyFlags() []string {
	var f policyFlags
	fs := pflag.NewFlagSet("policy", pflag.ContinueOnError)
	f.register(fs)
	var names []string
	fs.VisitAll(func(fl *pflag.Flag) { names = append(names, fl.Name) })
	return names
}

// serveFlags are the flags of deepconf serve besides run's policy flags.
type serveFlags struct {
	engineFlags
	policyFlags
	Detector       string
	ConfigFile     string
	Listen         string
	ServedModel    string
	APIKey         string
	MaxRunning     int
	MaxQueue       int
	Timeout        time.Duration
	Drain          time.Duration
	MaxPromptBytes int
	Gate           string
	GateFrom       string
	GateThreshold  float64
	GateMessage    string
	GateLog        string
	LogPrompts     bool
}

// serveAPIKeyEnv names the environment variable with serve's own API key.
const serveAPIKeyEnv = "DEEPCONF_SERVE_API_KEY"

func newServeCmd() *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve DeepConf behind an OpenAI-compatible API, with an optional confidence gate",
		Long: `serve answers POST /v1/chat/completions (streaming and not) by running the sampling policy on the
prompt exactly as deepconf run does for one instance: the confidence-weighted vote decides the
behaviour, and the answer is the most confident finished trace with that behaviour. The response
has the standard fields plus a "deepconf" object (behaviour, β, votes, confidence, threshold,
trace and token counts). GET /v1/models, GET /healthz and GET /metrics (Prometheus) complete it.

Every policy flag of deepconf run applies; a request overrides them with
  "deepconf": {"flags": {"tau": 0.9, "max-traces": 8}, "instance_id": "...", "traces": true}
A streamed answer is sent once the decision is made; the deepconf object is in the last chunk.

--gate flag|refuse marks or replaces a compliance whose confidence is below the split of a
finished run's analysis (--gate-from RUN_DIR) or --gate-threshold; each gated decision is logged
as a JSON line (--gate-log), without the prompt unless --log-prompts. SIGTERM drains the requests
in flight and exits. The README's "Serving" section shows harness configurations.`,
		Example: `  # Qwen3-0.6B from the Hub on this machine, with a key.
  deepconf serve --model Qwen/Qwen3-0.6B --api-key "$KEY"
  # In front of a vLLM server; flag low-confidence compliances by a finished run's split.
  deepconf serve --endpoint http://gpu1:8000/v1 --model Qwen/Qwen3-8B --gate flag --gate-from results/toxicchat_8b
  # A generated random-weight model, for a smoke test.
  deepconf serve --model test:tiny --listen 127.0.0.1:8081`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.ConfigFile != "" {
				if err := cliflag.ApplyJSON(cmd.Flags(), f.ConfigFile); err != nil {
					return err
				}
			}
			return serveModel(cmd.Context(), cmd.Flags(), &f, cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	// The engine flags, except that --api-key is serve's own key here and
	// the --endpoint servers' key is --upstream-api-key.
	ef := pflag.NewFlagSet("engine", pflag.ContinueOnError)
	f.engineFlags.register(ef)
	ef.VisitAll(func(fl *pflag.Flag) {
		if fl.Name != "api-key" {
			fs.AddFlag(fl)
		}
	})
	fs.StringVar(&f.engineFlags.APIKey, "upstream-api-key", "", "API key for --endpoint servers (default $DEEPCONF_API_KEY or $OPENAI_API_KEY; never logged)")
	f.policyFlags.register(fs)
	fs.StringVar(&f.Detector, "detector", refusal.DefaultSpec, "refusal detector (as deepconf run's)")
	cliflag.Aliases(fs, engineAliases(), policyAliases())
	fs.StringVar(&f.ConfigFile, "config", "", "JSON file of flag values (flag name → value); command-line flags win")
	fs.StringVar(&f.Listen, "listen", "127.0.0.1:8080", "address to listen on (host:port; loopback unless you say otherwise)")
	fs.StringVar(&f.ServedModel, "served-model-name", "", "model name clients send and /v1/models lists (default: --model)")
	fs.StringVar(&f.APIKey, "api-key", "", "bearer token clients must send (default $"+serveAPIKeyEnv+"; checked in constant time, never logged)")
	cliflag.Int(fs, &f.MaxRunning, "max-running", 0, cliflag.Between(0, 4096), "requests sampled at once (0: --parallel, times the number of --endpoint servers)")
	cliflag.Int(fs, &f.MaxQueue, "max-queue", -1, cliflag.Between(-1, 1<<20), "requests that may wait for a slot before further ones get 429 (-1: 4 × --max-running)")
	cliflag.Duration(fs, &f.Timeout, "request-timeout", 10*time.Minute, 0, 24*time.Hour, "deadline of a request from arrival to answer, queueing included (0: none)")
	cliflag.Duration(fs, &f.Drain, "drain-timeout", 5*time.Minute, 0, 24*time.Hour, "on SIGTERM, how long requests in flight may take before they are cancelled")
	cliflag.Int(fs, &f.MaxPromptBytes, "max-prompt-bytes", 64<<10, cliflag.Between(1, 16<<20), "largest prompt (system and user messages) in bytes")
	fs.StringVar(&f.Gate, "gate", serve.GateOff, "confidence gate: off, flag (mark a low-confidence compliance) or refuse (replace it)")
	fs.StringVar(&f.GateFrom, "gate-from", "", "take the gate's threshold from a finished run: its analysis.json's confidence split")
	cliflag.Float(fs, &f.GateThreshold, "gate-threshold", 0, cliflag.Finite, "the gate's threshold on the instance confidence (instead of --gate-from)")
	fs.StringVar(&f.GateMessage, "gate-message", serve.DefaultRefusal, "the answer that replaces a low-confidence compliance with --gate refuse")
	fs.StringVar(&f.GateLog, "gate-log", "-", "JSON-lines log of gated decisions (- : standard error); appended to")
	fs.BoolVar(&f.LogPrompts, "log-prompts", false, "write prompts and answers into the gate log (default: only their sha256)")
	return cmd
}

// servePolicy returns the policy function of deepconf serve: run's policy
// flags as given to serve (fs), with a request's overrides set on top, turned
// into a controller configuration by run's own policyConfig.
func servePolicy(fs *pflag.FlagSet) serve.PolicyFunc {
	names := servePolicyFlags()
	return func(overrides map[string]any) (serve.Policy, error) {
		var f policyFlags
		rfs := pflag.NewFlagSet("policy", pflag.ContinueOnError)
		f.register(rfs)
		cliflag.Aliases(rfs, policyAliases())
		for _, name := range names {
			if fl := fs.Lookup(name); fl.Changed {
				if err := rfs.Set(name, fl.Value.String()); err != nil {
					return serve.Policy{}, fmt.Errorf("--%s: %w", name, err)
				}
			}
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range overrides {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			if rfs.Lookup(k) == nil {
				return serve.Policy{}, fmt.Errorf("unknown policy flag %q (one of %s)", k, strings.Join(names, ", "))
			}
			var s string
			switch v := overrides[k].(type) {
			case string:
				s = v
			case json.Number:
				s = v.String()
			case bool:
				s = strconv.FormatBool(v)
			default:
				return serve.Policy{}, fmt.Errorf("%s: want a number, a string or a boolean, got %T", k, v)
			}
			if err := rfs.Set(k, s); err != nil {
				return serve.Policy{}, fmt.Errorf("%s: %w", k, err)
			}
		}
		pc, err := policyConfig(rfs, &f)
		if err != nil {
			return serve.Policy{}, err
		}
		return serve.Policy{Config: pc, MaxTraces: runner.MaxTraces(pc)}, nil
	}
}

// serveModel runs deepconf serve until ctx ends (SIGTERM or SIGINT), then
// drains (serve.Run).
func serveModel(ctx context.Context, fs *pflag.FlagSet, f *serveFlags, log io.Writer) error {
	running := f.concurrency(f.MaxRunning)
	f.Prompts = running
	rf := &runFlags{engineFlags: f.engineFlags, Detector: f.Detector}
	return serve.Run(ctx, serve.Config{
		Server: serve.Options{
			Model: cmp.Or(f.ServedModel, f.Model), Policy: servePolicy(fs), LogPrompts: f.LogPrompts, APIKey: cmp.Or(f.APIKey, os.Getenv(serveAPIKeyEnv)),
			MaxRunning: running, MaxQueue: f.MaxQueue, Timeout: f.Timeout, MaxPromptBytes: f.MaxPromptBytes, Version: version, RandomModel: f.isTestModel(),
		},
		Gate:    serve.GateOptions{Mode: f.Gate, From: f.GateFrom, Threshold: f.GateThreshold, ThresholdSet: fs.Changed("gate-threshold"), Message: f.GateMessage},
		GateLog: f.GateLog, Listen: f.Listen, Drain: f.Drain, Stderr: log,
		OpenEngine: func(ctx context.Context, pc controller.Config) (engine.Engine, error) {
			return f.openEngine(ctx, pc.Sampling.TopLogprobs, pc.Sampling.MaxTokens, log)
		},
		OpenDetector: func(ctx context.Context) (refusal.Detector, func() error, error) { return rf.openDetector(ctx, log) },
	})
}
