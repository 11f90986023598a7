package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/deepconf/deepconf/engine/llamacpp"
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
	fs.DurationVar(&f.Timeout, "request-timeout", 10*time.Minute, "deadline of a request from arrival to answer, queueing included (0: none)")
	fs.DurationVar(&f.Drain, "drain-timeout", 5*time.Minute, "on SIGTERM, how long requests in flight may take before they are cancelled")
	cliflag.Int(fs, &f.MaxPromptBytes, "max-prompt-bytes", 64<<10, cliflag.Between(1, 16<<20), "largest prompt (system and user messages) in bytes")
	fs.StringVar(&f.Gate, "gate", serve.GateOff, "confidence gate: off, flag (mark a low-confidence compliance) or refuse (replace it)")
	fs.StringVar(&f.GateFrom, "gate-from", "", "take the gate's threshold from a finished run: its analysis.json's confidence split")
	fs.Float64Var(&f.GateThreshold, "gate-threshold", 0, "the gate's threshold on the instance confidence (instead of --gate-from)")
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

// serveGate builds the confidence gate from the flags.
func serveGate(fs *pflag.FlagSet, f *serveFlags) (serve.Gate, error) {
	g := serve.Gate{Mode: f.Gate, Message: f.GateMessage}
	from, num := f.GateFrom != "", fs.Changed("gate-threshold")
	switch {
	case f.Gate == serve.GateOff:
		if from || num {
			return g, errors.New("--gate-from and --gate-threshold need --gate flag or --gate refuse")
		}
		return g, nil
	case f.Gate != serve.GateFlag && f.Gate != serve.GateRefuse:
		return g, fmt.Errorf("--gate %q: want off, flag or refuse", f.Gate)
	case from == num:
		return g, fmt.Errorf("--gate %s needs a threshold: --gate-from RUN_DIR or --gate-threshold X (one of them)", f.Gate)
	case num:
		if math.IsNaN(f.GateThreshold) || math.IsInf(f.GateThreshold, 0) {
			return g, fmt.Errorf("--gate-threshold %v: want a finite number", f.GateThreshold)
		}
		g.Threshold, g.Source = f.GateThreshold, "--gate-threshold"
		return g, g.Validate()
	}
	th, scale, source, err := serve.GateFromRun(f.GateFrom)
	if err != nil {
		return g, fmt.Errorf("--gate-from: %w", err)
	}
	g.Threshold, g.Source, g.Scale = th, source, &scale
	return g, g.Validate()
}

// checkServeFlags range-checks serve's own flags.
func checkServeFlags(f *serveFlags) error {
	for _, c := range []struct {
		flag   string
		v      time.Duration
		lo, hi time.Duration
	}{
		{"request-timeout", f.Timeout, 0, 24 * time.Hour},
		{"drain-timeout", f.Drain, 0, 24 * time.Hour},
	} {
		if c.v < c.lo || c.v > c.hi {
			return fmt.Errorf("--%s %v: must be in [%v, %v]", c.flag, c.v, c.lo, c.hi)
		}
	}
	if _, _, err := net.SplitHostPort(f.Listen); err != nil {
		return fmt.Errorf("--listen %q: want host:port (e.g. 127.0.0.1:8080): %w", f.Listen, err)
	}
	return nil
}

// serveModel runs deepconf serve until ctx ends (SIGTERM or SIGINT), then
// drains.
func serveModel(ctx context.Context, fs *pflag.FlagSet, f *serveFlags, log io.Writer) error {
	if err := checkServeFlags(f); err != nil {
		return err
	}
	policy := servePolicy(fs)
	base, err := policy(nil)
	if err != nil {
		return err
	}
	gate, err := serveGate(fs, f)
	if err != nil {
		return err
	}
	running := f.concurrency(f.MaxRunning)
	queue := f.MaxQueue
	if queue < 0 {
		queue = 4 * running
	}
	f.Prompts = running
	apiKey := f.APIKey
	if apiKey == "" {
		apiKey = os.Getenv(serveAPIKeyEnv)
	}
	model := f.ServedModel
	if model == "" {
		model = f.Model
	}
	rf := &runFlags{engineFlags: f.engineFlags, Detector: f.Detector}

	eng, err := f.openEngine(ctx, base.Config.Sampling.TopLogprobs, base.Config.Sampling.MaxTokens, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	det, judge, err := openDetector(ctx, rf, log)
	if err != nil {
		return err
	}
	if judge != nil {
		defer judge.Close()
	}
	var gateLog io.Writer
	if gate.Mode != serve.GateOff {
		gateLog = log
		if f.GateLog != "-" {
			fh, err := os.OpenFile(f.GateLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
			if err != nil {
				return fmt.Errorf("--gate-log: %w", err)
			}
			defer fh.Close()
			gateLog = fh
		}
	}
	opts := serve.Options{
		Engine: eng, Detector: det, Model: model, Policy: policy,
		Gate: gate, GateLog: gateLog, LogPrompts: f.LogPrompts, APIKey: apiKey,
		MaxRunning: running, MaxQueue: queue, Timeout: f.Timeout, MaxPromptBytes: f.MaxPromptBytes,
		Log: slog.New(slog.NewTextHandler(log, nil)), Version: version, RandomModel: f.isTestModel(),
	}
	if le, ok := eng.(*llamacpp.Engine); ok {
		opts.EngineStats = func() serve.EngineStats {
			st := le.Stats()
			return serve.EngineStats{Steps: st.Steps, Tokens: st.Tokens}
		}
	}
	srv, err := serve.New(opts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", f.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	if host, _, _ := net.SplitHostPort(f.Listen); apiKey == "" && !isLoopback(host) {
		fmt.Fprintf(log, "deepconf: WARNING: listening on %s without --api-key: anyone who can reach it can use the model\n", f.Listen)
	}
	pc := base.Config
	fmt.Fprintf(log, "deepconf: serving %q on http://%s/v1 (policy %s, up to %d traces, %d running + %d queued requests, gate %s)\n",
		model, ln.Addr(), pc.Policy, base.MaxTraces, running, queue, gate.Mode)
	return srv.Serve(ctx, ln, f.Drain)
}

// isLoopback reports whether host names only loopback addresses.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
