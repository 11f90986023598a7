package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/internal/progress"
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
	Output       string
	Shard        string
	Concurrency  int
	ConfigFile   string
	NoAnalyze    bool
	AllowSkipped bool
	Mapping      benchmark.Mapping
	Harmful      string
	Detector     string
	HarmDetector string
	HarmFormat   string
	policyFlags
}

// policyFlags are the flags that set the sampling policy (run's, and
// serve's, where a request may override them by these names).
type policyFlags struct{ runner.PolicySettings }

// runAliases are the older names of run's flags, kept as hidden aliases.
func runAliases() map[string]string {
	return map[string]string{"output-dir": "output", "prompts": "concurrency"}
}

// runPolicyFlags maps the policy's JSON keys (controller.Config) to run's
// flags where their names differ, for the policy's own range checks.
func runPolicyFlags() map[string]string {
	return map[string]string{"top_logprobs": "logprobs-k", "warmup": "min-traces", "budget": "max-traces", "parallel": "instance-parallel",
		"seed_min_traces": "min-traces", "seed_max_traces": "max-traces", "seed_percentile": "percentile", "keep": "percentile"}
}

func newRunCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Sample traces for every instance of a benchmark, score them with DeepConf and detect refusals",
		Long: `run is the main job: benchmark in; every trace with its per-token confidences, its refusal
verdict and the instance's prediction out, in the output directory (-o):

  run.json           configuration and provenance
  traces.jsonl       one line per trace (per-token confidences kept for replay)
  predictions.jsonl  one line per instance (the prototype's fields plus DeepConf's)

and, when every instance is done, its analysis (as deepconf analyze): analysis.json, figures/ and
report.html. The last line names every file written.

Nothing is written before the inputs are proven: the flags, the benchmark, the output directory,
the model (loaded), the detector and the servers. Runs are resumable: the same command on the same
directory continues where it stopped, and completes a missing analysis; a changed configuration, or
another model file, engine version or chat template, is refused with the difference shown. A
directory whose run finished no instance (a failed start) takes the corrected command.

An instance whose prompt does not fit the context (--ctx) is skipped and listed in run.json; the
run then stays unfinished and exits with an error, unless --allow-skipped finishes it without them
(the analysis and the report count them).

Parallelism, three numbers (none is part of the configuration; run.json records them per session):
  --parallel N      traces generated at once: the embedded engine's batch (default 8), or the
                    requests in flight to each --endpoint server
  --concurrency N   instances (prompts) sampled at once (default: enough to keep --parallel busy:
                    --parallel, times the number of --endpoint servers)
  --threads N       CPU threads of the embedded engine (default: all cores)
The policy's --instance-parallel (default 1) is different: the traces of one instance sampled at
once after its warm-up; above 1 the consensus stop cancels traces whose token counts depend on
timing, so it is part of the configuration.

--shard i/n runs every n-th instance; join shards with deepconf merge. --harm-detector judge:<model>
also rates every answer's harm (response_harm; analyze --outcome response-harm tests it: docs/harm.md).`,
		Example: `  # The main job: 20 ToxicChat prompts through Qwen3-0.6B from the Hugging Face Hub.
  deepconf run --model Qwen/Qwen3-0.6B --benchmark toxicchat --num-instances 20 -o results/toxicchat_20
  # Offline: local model and data; the prototype's policy and flags.
  deepconf run --model qwen3-0.6b-q8_0.gguf --benchmark xstest --data ../shared/data/xstest --policy prototype --min-traces 3 --max-traces 10
  # The whole pipeline on a generated random-weight model.
  deepconf run --model test:tiny --benchmark xstest --data ../shared/data/xstest --num-instances 10 -o results/smoke
  # A custom file, against two vLLM servers.
  deepconf run --endpoint http://gpu1:8000/v1 --endpoint http://gpu2:8000/v1 --model Qwen/Qwen3-8B \
      --benchmark prompts.csv --prompt-field text --label-field is_harmful -o results/mine`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.ConfigFile != "" {
				if err := cliflag.ApplyJSON(cmd.Flags(), f.ConfigFile); err != nil {
					return err
				}
			}
			return runBenchmark(cmd.Context(), cmd.Flags(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.engineFlags.register(fs)
	fs.StringVar(&f.Benchmark, "benchmark", "synthetic", "benchmark name (see deepconf data ls) or a CSV/JSONL/Parquet file (with --prompt-field, --label-field)")
	fs.StringVar(&f.Data, "data", "", "local benchmark file or directory (default: download from the Hugging Face Hub)")
	cliflag.Int(fs, &f.NumInstances, "num-instances", 0, cliflag.AtLeast(0), "run the first N instances (0: all; the prototype silently used 20)")
	cliflag.Output(fs, &f.Output, "", "output directory (default results/<benchmark>_<policy>)")
	fs.StringVar(&f.Shard, "shard", "", "run shard i of n (i/n, 0-based): instances whose index ≡ i mod n")
	cliflag.Int(fs, &f.Concurrency, "concurrency", 0, cliflag.Between(0, maxParallel), "instances sampled at once (0: --parallel, times the number of --endpoint servers)")
	fs.StringVar(&f.ConfigFile, "config", "", "JSON file of flag values (flag name → value); command-line flags win")
	fs.BoolVar(&f.NoAnalyze, "no-analyze", false, "do not analyze the finished run (analysis.json, figures, report.html); deepconf analyze DIR does it later")
	fs.BoolVar(&f.AllowSkipped, "allow-skipped", false, "finish the run without the instances whose prompt does not fit the context (else they are an error)")
	fs.StringVar(&f.Mapping.Prompt, "prompt-field", "prompt", "prompt field of a custom benchmark file")
	fs.StringVar(&f.Mapping.Label, "label-field", "", "prompt-label field of a custom benchmark file")
	fs.StringVar(&f.Harmful, "harmful-values", "", "comma-separated --label-field values meaning harmful (default 1,true,harmful,unsafe,toxic,yes)")
	fs.StringVar(&f.Mapping.ID, "id-field", "", "instance-id field of a custom benchmark file")
	fs.StringVar(&f.Mapping.Category, "category-field", "", "category field of a custom benchmark file")

	f.policyFlags.register(fs)
	fs.StringVar(&f.Detector, "detector", refusal.DefaultSpec, "refusal detector: ensemble (default: the trained classifier over the rules), patterns (rules), patterns:seed (the prototype's 48 phrases), classifier, classifier:FILE or judge:<model>")
	fs.StringVar(&f.HarmDetector, "harm-detector", "", "judge:<model> that rates every answer's harm into traces.jsonl and predictions.jsonl (response_harm): Llama Guard 3, WildGuard or Qwen3Guard")
	cliflag.Enum(fs, &f.HarmFormat, "harm-judge-format", "", []string{"", string(refusal.FormatLlamaGuard3), string(refusal.FormatWildGuard), string(refusal.FormatQwen3Guard)},
		"--harm-detector's prompt format: llamaguard3, wildguard or qwen3guard (default: from the model name)")
	cliflag.Aliases(fs, engineAliases(), runAliases(), policyAliases())
	return cmd
}

// policyAliases are the older names of the policy flags, kept as hidden
// aliases.
func policyAliases() map[string]string {
	return map[string]string{"k": "logprobs-k", "warmup": "min-traces", "budget": "max-traces"}
}

// register adds the policy flags to fs (their aliases are the command's to
// set: cliflag.Aliases takes all of a command's aliases at once).
func (f *policyFlags) register(fs *pflag.FlagSet) {
	d := controller.Default(controller.PolicyDeepConf)
	cliflag.EnumStored(fs, &f.Policy, "policy", controller.PolicyDeepConf, []string{controller.PolicyDeepConf, controller.PolicyOffline, controller.PolicyFixed, controller.PolicySingle, controller.PrototypeName},
		map[string]string{controller.PrototypeName: controller.PolicyPrototype, "seed": controller.PolicyPrototype},
		"sampling policy: deepconf, offline, fixed, single or prototype (the Python prototype's rule; seed is its older name)")
	cliflag.Int(fs, &f.MinTraces, "min-traces", d.Warmup, cliflag.AtLeast(1), "warm-up traces (deepconf N_init; prototype: 3)")
	cliflag.Int(fs, &f.MaxTraces, "max-traces", d.Budget, cliflag.AtLeast(1), "most traces per instance (deepconf budget B; prototype: 10)")
	fs.BoolVar(&f.NoEarlyStopping, "no-early-stopping", false, "no early termination or consensus stop (deepconf: B complete traces; prototype: max-traces in one batch)")
	cliflag.Float(fs, &f.Percentile, "percentile", 0, cliflag.Between(0, 100), "threshold percentile of the warm-up confidences (deepconf: 100−100η, default 10, below 100; prototype: default 90)")
	cliflag.Int(fs, &f.Window, "window", d.Window, cliflag.AtLeast(1), "group (sliding window) size W in tokens")
	cliflag.Int(fs, &f.MinTokens, "min-tokens", 0, cliflag.AtLeast(0), "tokens before a trace can be stopped early (0: the window)")
	cliflag.Int(fs, &f.K, "logprobs-k", d.Sampling.TopLogprobs, cliflag.Between(1, engine.MaxTopLogprobs), "top-k log-probabilities per token for the token confidence")
	cliflag.Float(fs, &f.Tau, "tau", d.Tau, cliflag.Unit, "consensus τ: stop sampling when the weighted vote's β ≥ τ")
	cliflag.Int(fs, &f.MinVoters, "min-voters", d.MinVoters, cliflag.AtLeast(1), "voting traces needed before the consensus stop (capped at --max-traces)")
	cliflag.Int(fs, &f.InstanceParallel, "instance-parallel", d.Parallel, cliflag.AtLeast(1), "traces of one instance in flight after the warm-up (1 keeps token counts reproducible)")
	cliflag.Int(fs, &f.Traces, "traces", d.Traces, cliflag.AtLeast(1), "traces per instance for the offline and fixed policies")
	cliflag.Enum(fs, &f.Aggregate, "aggregate", d.Aggregate, []string{controller.AggMajority, controller.AggWeighted, controller.AggTop}, "offline policy vote: majority, weighted or top")
	cliflag.Float(fs, &f.Keep, "keep", 0.1, cliflag.Unit, "top-η fraction kept by --aggregate top")
	cliflag.Enum(fs, &f.Metric, "metric", d.Metric, []string{controller.MetricLowestGroup, controller.MetricBottom, controller.MetricTail, controller.MetricMean}, "trace confidence for thresholds and votes: lowest_group, bottom, tail or mean")
	fs.BoolVar(&f.Official, "official-confidence", false, "token confidence as the official utils.compute_confidence (sampled token included when outside the top-k, 3 dp)")
	fs.BoolVar(&f.PostHoc, "post-hoc-filter", false, "also discard finished traces below the threshold, as the official code does (with --stop-rule paper)")
	cliflag.Enum(fs, &f.StopRule, "stop-rule", d.StopRule, []string{controller.StopHead, controller.StopPaper, controller.StopPosition},
		"deepconf early stop: head (length-fair: every trace judged once on its first --window tokens), paper (the paper's window-mean rule; brings --metric lowest_group and --quantile linear) or position (threshold by token position)")
	cliflag.Enum(fs, &f.Quantile, "quantile", d.Quantile, []string{controller.QuantileNormal, controller.QuantileLinear},
		"estimator of the stop threshold from the warm-up: normal (calibrated prediction bound) or linear (numpy's percentile, the paper's)")
	cliflag.Float(fs, &f.Temperature, "temperature", d.Sampling.Temperature, cliflag.AtLeast(0), "sampling temperature")
	cliflag.Float(fs, &f.TopP, "top-p", d.Sampling.TopP, cliflag.Unit, "nucleus sampling mass")
	cliflag.Int(fs, &f.TopK, "top-k", d.Sampling.TopK, cliflag.AtLeast(0), "top-k sampling (0: off; prototype policy default 50)")
	cliflag.Int(fs, &f.MaxTokens, "max-tokens", d.Sampling.MaxTokens, cliflag.Between(1, maxContext), "most generated tokens per trace")
	fs.BoolVar(&f.Thinking, "thinking", false, "Qwen3 thinking mode (the prototype ran with thinking off)")
	fs.StringVar(&f.System, "system", "", "system message")
	cliflag.Uint64(fs, &f.Seed, "seed", d.Sampling.Seed, "base seed: every trace's seed derives from it, the instance id and the trace index")
}

// policyConfig builds the controller configuration from the flags
// (runner.PolicySettings); its errors name the flags.
func policyConfig(fs *pflag.FlagSet, f *policyFlags) (controller.Config, error) {
	ps := f.PolicySettings
	for _, name := range []string{"stop-rule", "quantile"} {
		if fs.Changed(name) && ps.Policy != controller.PolicyDeepConf {
			return controller.Config{}, fmt.Errorf("--%s: only the deepconf policy has a stop rule to set (--policy %s)", name, ps.Policy)
		}
	}
	ps.TopKGiven, ps.MinTracesGiven, ps.MaxTracesGiven, ps.PercentileGiven = fs.Changed("top-k"), fs.Changed("min-traces"), fs.Changed("max-traces"), fs.Changed("percentile")
	ps.MetricGiven, ps.QuantileGiven = fs.Changed("metric"), fs.Changed("quantile")
	names := runPolicyFlags()
	if f.Aggregate == controller.AggTop {
		names["keep"] = "keep"
	}
	c, err := ps.Config()
	return c, cliflag.Rename(err, fs, names)
}

// runOptions checks the flags and builds the runner's options: every error
// here comes before anything is opened, loaded or written.
func runOptions(fs *pflag.FlagSet, f *runFlags, log io.Writer) (runner.Options, error) {
	var o runner.Options
	pc, err := policyConfig(fs, &f.policyFlags)
	if err != nil {
		return o, err
	}
	if err := f.engineFlags.check(); err != nil {
		return o, err
	}
	shard, err := store.ParseShard(f.Shard)
	if err != nil {
		return o, fmt.Errorf("--shard %w", err)
	}
	if f.Policy == controller.PolicyPrototype && !fs.Changed("detector") {
		f.Detector = refusal.SpecPrototype
		fmt.Fprintf(log, "deepconf: the prototype policy detects refusals as the prototype did (--detector %s); --detector chooses another\n", refusal.SpecPrototype)
	}
	if err := checkDetector(f.Detector); err != nil {
		return o, err
	}
	var harmFormat refusal.JudgeFormat
	if f.HarmDetector != "" || f.HarmFormat != "" {
		if harmFormat, err = refusal.HarmFormat(f.HarmDetector, refusal.JudgeFormat(f.HarmFormat)); err != nil {
			return o, fmt.Errorf("--harm-detector: %w (--harm-judge-format)", err)
		}
	}
	out := f.Output
	if out == "" {
		out = filepath.Join("results", fmt.Sprintf("%s_%s", strings.TrimSuffix(filepath.Base(f.Benchmark), filepath.Ext(f.Benchmark)), f.Policy))
	}
	conc := f.concurrency(f.Concurrency)
	f.Prompts = conc
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
	o = runner.Options{
		Dir: out, Data: data, Policy: pc, Shard: shard, Concurrency: conc, AllowSkipped: f.AllowSkipped,
		EngineKind: kind, Model: f.Model, Random: f.isTestModel(), Quant: f.Quant, APIMode: f.APIMode, KVUnified: f.KVUnified,
		Detector: f.Detector, ChatTemplate: f.ChatTemplate, ReasoningDelimiters: f.Reasoning,
		OpenEngine: func(ctx context.Context) (engine.Engine, error) {
			return f.openEngine(ctx, f.K, f.MaxTokens, log)
		},
		OpenDetector: func(ctx context.Context) (refusal.Detector, func() error, error) { return f.openDetector(ctx, log) },
		HarmDetector: f.HarmDetector, HarmFormat: string(harmFormat),
		OpenHarmDetector: func(ctx context.Context, det refusal.Detector) (refusal.HarmDetector, func() error, error) {
			return refusal.OpenHarm(ctx, f.HarmDetector, harmFormat, det, f.judgeEngine(log))
		},
		Version: version,
	}
	return o, cliflag.Rename(o.Validate(), fs, map[string]string{"dir": "output"})
}

func runBenchmark(ctx context.Context, fs *pflag.FlagSet, f *runFlags, stdout, log io.Writer) error {
	o, err := runOptions(fs, f, log)
	if err != nil {
		return err
	}
	var pr *progress.Instances
	o.Progress = runner.Progress{
		Open: func(total, done int) {
			fmt.Fprintf(log, "deepconf: %s: %d instances (%d done), policy %s, output %s\n", f.Benchmark, total, done, f.Policy, o.Dir)
		},
		Start:    func(total, done int) { pr = progress.NewInstances(log, total, done) },
		Instance: func(p *record.Prediction) { pr.Add(p.TracesGenerated, p.TokensGenerated) },
		Skip:     func(id string, err error) { fmt.Fprintf(log, "deepconf: skipping %s: %v\n", id, err) },
	}
	res, err := runner.Run(ctx, o)
	if pr != nil {
		pr.Close()
	}
	if res.Replaced {
		fmt.Fprintf(log, "deepconf: %s held a run of another configuration that finished no instance; it was replaced\n", res.Dir)
	}
	if err != nil {
		return err
	}
	files := []string{record.RunFile}
	if pr != nil { // this session sampled instances
		files = append(files, record.TracesFile, record.PredictionsFile)
	}
	switch {
	case !o.Shard.Whole():
		fmt.Fprintf(log, "deepconf: shard %s done; join the shards with deepconf merge, then run deepconf analyze on the merged directory\n", f.Shard)
	case f.NoAnalyze && !runner.AnalysisComplete(res.Dir):
		fmt.Fprintf(log, "deepconf: not analysed (--no-analyze); deepconf analyze %s does it\n", res.Dir)
	case res.Analyze && !f.NoAnalyze:
		oc, err := analyze(ctx, res.Dir, runreport.AnalyzeOptions{}, stdout, log)
		if err != nil {
			return fmt.Errorf("the run is complete and saved in %s, but its analysis failed: %w (run the same command again, or deepconf analyze %s, to complete it)", res.Dir, err, res.Dir)
		}
		files = append(files, oc.Files()...)
	}
	fmt.Fprintf(stdout, "\n%d of %d instances in %s; wrote %s\n", res.Completed, res.Instances, res.Dir, strings.Join(files, ", "))
	return nil
}

// checkDetector checks a --detector spec before anything is opened.
func checkDetector(spec string) error {
	if model, ok := strings.CutPrefix(spec, refusal.SpecJudgePrefix); ok {
		if model == "" || strings.HasPrefix(model, "http://") || strings.HasPrefix(model, "https://") {
			return fmt.Errorf("--detector %q: give the judge's model (a .gguf, a Hugging Face id or test:...)", spec)
		}
		return nil
	}
	if _, err := refusal.New(spec); err != nil {
		return fmt.Errorf("--detector: %w", err)
	}
	return nil
}

// openDetector opens --detector (refusal.Open); a judge's engine is opened
// from the engine flags.
func (f *runFlags) openDetector(ctx context.Context, log io.Writer) (refusal.Detector, func() error, error) {
	return refusal.Open(ctx, f.Detector, f.judgeEngine(log))
}

// judgeEngine returns the function that opens a judge's embedded engine
// from the engine flags.
func (f *runFlags) judgeEngine(log io.Writer) func(ctx context.Context, model string) (engine.Engine, error) {
	return func(ctx context.Context, model string) (engine.Engine, error) {
		jf := f.engineFlags
		jf.Model, jf.Endpoints = model, nil
		return jf.openEngine(ctx, 1, refusal.DefaultJudgeMaxTokens, log)
	}
}
