package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/runner"
	"github.com/deepconf/deepconf/runreport"
	"github.com/deepconf/deepconf/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// runFlags are the flags of deepconf run. The prototype's flags
// (--model --benchmark --num-instances --min-traces --max-traces
// --no-early-stopping --output) keep their names and meaning.
type runFlags struct {
	engineFlags
	Benchmark    string
	Data         string
	NumInstances int
	OutputDir    string
	Output       string
	Shard        string
	Concurrency  int
	ConfigFile   string
	NoAnalyze    bool
	Mapping      benchmark.Mapping
	Harmful      string

	Policy          string
	MinTraces       int
	MaxTraces       int
	NoEarlyStopping bool
	Percentile      float64
	Window          int
	MinTokens       int
	K               int
	Tau             float64
	MinVoters       int
	InstanceParl    int
	Traces          int
	Aggregate       string
	Keep            float64
	Metric          string
	Official        bool
	PostHoc         bool
	Temperature     float64
	TopP            float64
	TopK            int
	MaxTokens       int
	Thinking        bool
	System          string
	Seed            uint64
	Detector        string
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Sample traces for every instance of a benchmark, score them with DeepConf and detect refusals",
		Long: `run is the main job: benchmark in; every trace with its per-token confidences, its refusal
verdict and the instance's prediction out, in --output-dir:

  run.json           configuration and provenance
  traces.jsonl       one line per trace (per-token confidences kept for replay)
  predictions.jsonl  one line per instance (the prototype's fields plus DeepConf's)

Runs are resumable: the same command on the same directory continues where it stopped; a changed
configuration is refused with the difference shown. --shard i/n runs every n-th instance; join
shards with deepconf merge.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.ConfigFile != "" {
				if err := applyConfigFile(cmd.Flags(), f.ConfigFile); err != nil {
					return err
				}
			}
			return runBenchmark(cmd.Context(), cmd.Flags(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.engineFlags.register(fs)
	d := controller.Default(controller.PolicyDeepConf)
	fs.StringVar(&f.Benchmark, "benchmark", "synthetic", "benchmark name (see deepconf data ls) or a CSV/JSONL/Parquet file (with --prompt-field, --label-field)")
	fs.StringVar(&f.Data, "data", "", "local benchmark file or directory (default: download from the Hugging Face Hub)")
	fs.IntVar(&f.NumInstances, "num-instances", 0, "run the first N instances (0: all; the prototype silently used 20)")
	fs.StringVar(&f.OutputDir, "output-dir", "", "output directory (default results/<benchmark>_<policy>)")
	fs.StringVar(&f.Output, "output", "", "the prototype's name for --output-dir")
	fs.StringVar(&f.Shard, "shard", "", "run shard i of n (i/n, 0-based): instances whose index ≡ i mod n")
	fs.IntVar(&f.Concurrency, "concurrency", 0, "instances sampled at once (0: --parallel, or the endpoints' in-flight capacity)")
	fs.StringVar(&f.ConfigFile, "config", "", "JSON file of flag values (flag name → value); command-line flags win")
	fs.BoolVar(&f.NoAnalyze, "no-analyze", false, "do not analyze the finished run (analysis.json, figures, report.html); deepconf analyze DIR does it later")
	fs.StringVar(&f.Mapping.Prompt, "prompt-field", "prompt", "prompt field of a custom benchmark file")
	fs.StringVar(&f.Mapping.Label, "label-field", "", "prompt-label field of a custom benchmark file")
	fs.StringVar(&f.Harmful, "harmful-values", "", "comma-separated --label-field values meaning harmful (default 1,true,harmful,unsafe,toxic,yes)")
	fs.StringVar(&f.Mapping.ID, "id-field", "", "instance-id field of a custom benchmark file")
	fs.StringVar(&f.Mapping.Category, "category-field", "", "category field of a custom benchmark file")

	fs.StringVar(&f.Policy, "policy", controller.PolicyDeepConf, "sampling policy: deepconf, offline, fixed, single or seed (the prototype's rule)")
	fs.IntVar(&f.MinTraces, "min-traces", d.Warmup, "warm-up traces (deepconf N_init; seed: 3)")
	fs.IntVar(&f.MaxTraces, "max-traces", d.Budget, "most traces per instance (deepconf budget B; seed: 10)")
	fs.BoolVar(&f.NoEarlyStopping, "no-early-stopping", false, "no early termination or consensus stop (deepconf: B complete traces; seed: max-traces in one batch)")
	fs.Float64Var(&f.Percentile, "percentile", 0, "threshold percentile of the warm-up confidences (deepconf: 100−100η, default 10; seed: default 90)")
	fs.IntVar(&f.Window, "window", d.Window, "group (sliding window) size W in tokens")
	fs.IntVar(&f.MinTokens, "min-tokens", 0, "tokens before a trace can be stopped early (0: the window)")
	fs.IntVar(&f.K, "k", d.Sampling.TopLogprobs, "top-k log-probabilities per token for the token confidence (≤ 20)")
	fs.Float64Var(&f.Tau, "tau", d.Tau, "consensus τ: stop sampling when the weighted vote's β ≥ τ")
	fs.IntVar(&f.MinVoters, "min-voters", d.MinVoters, "voting traces needed before the consensus stop")
	fs.IntVar(&f.InstanceParl, "instance-parallel", d.Parallel, "traces of one instance in flight after the warm-up (1 keeps token counts reproducible)")
	fs.IntVar(&f.Traces, "traces", d.Traces, "traces per instance for the offline and fixed policies")
	fs.StringVar(&f.Aggregate, "aggregate", d.Aggregate, "offline policy vote: majority, weighted or top")
	fs.Float64Var(&f.Keep, "keep", 0.1, "top-η fraction kept by --aggregate top")
	fs.StringVar(&f.Metric, "metric", d.Metric, "trace confidence for thresholds and votes: lowest_group, bottom, tail or mean")
	fs.BoolVar(&f.Official, "official-confidence", false, "token confidence as the official utils.compute_confidence (sampled token included when outside the top-k, 3 dp)")
	fs.BoolVar(&f.PostHoc, "post-hoc-filter", false, "also discard finished traces below the threshold, as the official code does")
	fs.Float64Var(&f.Temperature, "temperature", d.Sampling.Temperature, "sampling temperature")
	fs.Float64Var(&f.TopP, "top-p", d.Sampling.TopP, "nucleus sampling mass")
	fs.IntVar(&f.TopK, "top-k", d.Sampling.TopK, "top-k sampling (0: off; seed policy default 50)")
	fs.IntVar(&f.MaxTokens, "max-tokens", d.Sampling.MaxTokens, "most generated tokens per trace")
	fs.BoolVar(&f.Thinking, "thinking", false, "Qwen3 thinking mode (the prototype ran with thinking off)")
	fs.StringVar(&f.System, "system", "", "system message")
	fs.Uint64Var(&f.Seed, "seed", d.Sampling.Seed, "base seed: every trace's seed derives from it, the instance id and the trace index")
	fs.StringVar(&f.Detector, "detector", refusal.DefaultSpec, "refusal detector: ensemble (default: the trained classifier over the rules), patterns (rules), patterns:seed (the prototype's 48 phrases), classifier, classifier:FILE or judge:<model>")
	return cmd
}

// applyConfigFile sets the flags named in a JSON file that were not given on
// the command line.
func applyConfigFile(fs *pflag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fl := fs.Lookup(k)
		if fl == nil {
			return fmt.Errorf("config %s: unknown setting %q (use flag names, e.g. \"max-traces\")", path, k)
		}
		if fl.Changed {
			continue
		}
		vals := []any{m[k]}
		if list, ok := m[k].([]any); ok {
			vals = list
		}
		for _, v := range vals {
			s := fmt.Sprint(v)
			if x, ok := v.(float64); ok {
				s = strconv.FormatFloat(x, 'f', -1, 64)
			}
			if err := fs.Set(k, s); err != nil {
				return fmt.Errorf("config %s: %s: %w", path, k, err)
			}
		}
	}
	return nil
}

// policyConfig builds the controller configuration from the flags.
func policyConfig(fs *pflag.FlagSet, f *runFlags) (controller.Config, error) {
	c := controller.Default(f.Policy)
	c.Sampling = engine.Sampling{Temperature: f.Temperature, TopP: f.TopP, TopK: f.TopK, MaxTokens: f.MaxTokens, Seed: f.Seed, TopLogprobs: f.K}
	if f.Policy == controller.PolicySeed && !fs.Changed("top-k") {
		c.Sampling.TopK = controller.Default(controller.PolicySeed).Sampling.TopK
	}
	c.Window, c.MinTokens = f.Window, f.MinTokens
	if c.MinTokens == 0 {
		c.MinTokens = c.Window
	}
	c.Tau, c.MinVoters, c.Parallel = f.Tau, f.MinVoters, f.InstanceParl
	c.Traces, c.Aggregate, c.Metric = f.Traces, f.Aggregate, f.Metric
	c.Official, c.PostHoc, c.EarlyStop = f.Official, f.PostHoc, !f.NoEarlyStopping
	c.Thinking, c.System = f.Thinking, f.System
	if f.Aggregate == controller.AggTop {
		c.Keep = f.Keep
	}
	switch f.Policy {
	case controller.PolicySeed:
		if fs.Changed("min-traces") {
			c.SeedMinTraces = f.MinTraces
		}
		if fs.Changed("max-traces") {
			c.SeedMaxTraces = f.MaxTraces
		}
		if fs.Changed("percentile") {
			c.SeedPercentile = f.Percentile
		}
	default:
		c.Warmup, c.Budget = f.MinTraces, f.MaxTraces
		if fs.Changed("percentile") {
			if f.Percentile < 0 || f.Percentile >= 100 {
				return c, fmt.Errorf("--percentile %g: must be in [0, 100)", f.Percentile)
			}
			c.Keep = 1 - f.Percentile/100
		}
		if c.MinVoters > c.Budget {
			c.MinVoters = c.Budget
		}
	}
	return c, c.Validate()
}

func runBenchmark(ctx context.Context, fs *pflag.FlagSet, f *runFlags, stdout, log io.Writer) error {
	pc, err := policyConfig(fs, f)
	if err != nil {
		return err
	}
	shard, err := store.ParseShard(f.Shard)
	if err != nil {
		return fmt.Errorf("--shard %w", err)
	}
	out := f.OutputDir
	if out == "" {
		out = f.Output
	}
	if out == "" {
		out = filepath.Join("results", fmt.Sprintf("%s_%s", strings.TrimSuffix(filepath.Base(f.Benchmark), filepath.Ext(f.Benchmark)), f.Policy))
	}
	conc := f.Concurrency
	if conc <= 0 {
		conc = f.Parallel
		if len(f.Endpoints) > 0 {
			conc = len(f.Endpoints) * f.InFlight
		}
	}
	if !fs.Changed("prompts") {
		f.Prompts = conc
	}
	data := runner.Data{Benchmark: f.Benchmark, Path: f.Data, Mapping: f.Mapping, NumInstances: f.NumInstances,
		Fetch: func(ctx context.Context, repo, file string) (string, error) {
			fetch, err := hubFetch(log)
			if err != nil {
				return "", err
			}
			return fetch(ctx, repo, file)
		}}
	if f.Harmful != "" {
		data.Mapping.HarmfulValues = strings.Split(f.Harmful, ",")
	}
	kind := runner.EngineLlamaCPP
	if len(f.Endpoints) > 0 {
		kind = runner.EngineOpenAI
	}
	var pr *progress
	o := runner.Options{
		Dir: out, Data: data, Policy: pc, Shard: shard, Concurrency: conc,
		EngineKind: kind, Model: f.Model, Random: f.isTestModel(), Quant: f.Quant, APIMode: f.APIMode, KVUnified: f.KVUnified,
		Detector: f.Detector, ChatTemplate: f.ChatTemplate, ReasoningDelimiters: f.Reasoning,
		OpenEngine: func(ctx context.Context) (engine.Engine, error) {
			return f.openEngine(ctx, f.K, f.MaxTokens, log)
		},
		OpenDetector: func(ctx context.Context) (refusal.Detector, func() error, error) {
			det, judge, err := openDetector(ctx, f, log)
			if err != nil || judge == nil {
				return det, nil, err
			}
			return det, judge.Close, nil
		},
		Version: version,
		Progress: runner.Progress{
			Open: func(total, done int) {
				fmt.Fprintf(log, "deepconf: %s: %d instances (%d done), policy %s, output %s\n", f.Benchmark, total, done, f.Policy, out)
			},
			Start:    func(total, done int) { pr = newProgress(log, total, done) },
			Instance: func(p *record.Prediction) { pr.add(p.TracesGenerated, p.TokensGenerated) },
			Skip:     func(id string, err error) { fmt.Fprintf(log, "deepconf: skipping %s: %v\n", id, err) },
		},
	}
	res, err := runner.Run(ctx, o)
	if pr != nil {
		pr.close()
	}
	if err != nil {
		return err
	}
	if res.Skipped > 0 {
		fmt.Fprintf(log, "deepconf: %d instances skipped (prompt too long for the context); raise --ctx and run again to add them\n", res.Skipped)
		return nil
	}
	fmt.Fprintf(stdout, "%d instances in %s (%s, %s, %s)\n", res.Completed, res.Dir, record.RunFile, record.TracesFile, record.PredictionsFile)
	switch {
	case f.NoAnalyze:
		return nil
	case !shard.Whole():
		fmt.Fprintf(log, "deepconf: shard %s done; join the shards with deepconf merge, then run deepconf analyze on the merged directory\n", f.Shard)
		return nil
	case !res.Analyze:
		return nil
	}
	if err := analyzeRun(ctx, res.Dir, runreport.AnalyzeOptions{}, stdout, log); err != nil {
		return fmt.Errorf("the run is complete and saved in %s, but its analysis failed: %w (deepconf analyze %s retries it)", res.Dir, err, res.Dir)
	}
	return nil
}

// openDetector builds the refusal detector; a judge gets its own engine.
func openDetector(ctx context.Context, f *runFlags, log io.Writer) (refusal.Detector, engine.Engine, error) {
	model, ok := strings.CutPrefix(f.Detector, "judge:")
	if !ok {
		det, err := refusal.New(f.Detector)
		return det, nil, err
	}
	jf := f.engineFlags
	jf.Model, jf.Endpoints = model, nil
	if strings.HasPrefix(model, "http://") || strings.HasPrefix(model, "https://") {
		return nil, nil, fmt.Errorf("--detector %q: give the judge's model (a .gguf, a Hugging Face id or test:...)", f.Detector)
	}
	e, err := jf.openEngine(ctx, 1, refusal.DefaultJudgeMaxTokens, log)
	if err != nil {
		return nil, nil, fmt.Errorf("judge model: %w", err)
	}
	det, err := refusal.New(f.Detector, refusal.WithEngine(e))
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return det, e, nil
}
