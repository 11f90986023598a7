package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
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
	fs.BoolVar(&f.Thinking, "thinking", false, "thinking mode of chat templates with a switch, Qwen3 and SmolLM3 (the prototype ran with thinking off)")
	fs.StringVar(&f.System, "system", "", "system message")
	fs.Uint64Var(&f.Seed, "seed", d.Sampling.Seed, "base seed: every trace's seed derives from it, the instance id and the trace index")
	fs.StringVar(&f.Detector, "detector", refusal.SpecPatterns, "refusal detector: patterns, patterns:seed or judge:<model>")
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

// parseShard parses "i/n".
func parseShard(s string) (i, n int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want i/n with 0 ≤ i < n", s)
	}
	return i, n, nil
}

// loadInstances loads the benchmark the flags name.
func loadInstances(ctx context.Context, f *runFlags, log io.Writer) ([]benchmark.Instance, error) {
	if _, ok := benchmark.Lookup(f.Benchmark); !ok {
		// A file with a field mapping.
		if _, serr := os.Stat(f.Benchmark); serr != nil {
			return nil, fmt.Errorf("--benchmark %q is neither a known benchmark (%s) nor a file", f.Benchmark, strings.Join(benchmark.Names(), ", "))
		}
		m := f.Mapping
		m.Name = strings.TrimSuffix(filepath.Base(f.Benchmark), filepath.Ext(f.Benchmark))
		if f.Harmful != "" {
			m.HarmfulValues = strings.Split(f.Harmful, ",")
		}
		return benchmark.LoadMapped(ctx, f.Benchmark, m, benchmark.FormatAuto)
	}
	opts := benchmark.Options{Data: f.Data}
	if f.Benchmark == "synthetic" && f.NumInstances > 0 {
		opts.SyntheticSize = f.NumInstances
	}
	if f.Data == "" {
		fetch, err := hubFetch(log)
		if err != nil {
			return nil, err
		}
		opts.Fetch = fetch
	}
	return benchmark.Load(ctx, f.Benchmark, opts)
}

// sha256File returns the hex sha256 of a file.
func sha256File(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// datasetDigests maps each benchmark file's base name to its sha256: the
// data's identity in the configuration, which must not depend on where the
// files are (shards run on different machines, a moved checkout).
func datasetDigests(info map[string]any) map[string]string {
	out := map[string]string{}
	files, _ := info["files"].(map[string]string)
	for path, sum := range files {
		out[filepath.Base(path)] = sum
	}
	return out
}

// datasetInfo describes the benchmark files for run.json.
func datasetInfo(name string, ins []benchmark.Instance) (map[string]any, error) {
	files := map[string]string{}
	for _, in := range ins {
		if in.Source == "" {
			continue
		}
		if _, ok := files[in.Source]; !ok {
			sum, err := sha256File(in.Source)
			if err != nil {
				return nil, err
			}
			files[in.Source] = sum
		}
	}
	return map[string]any{"name": name, "files": files, "rows": len(ins)}, nil
}

func runBenchmark(ctx context.Context, fs *pflag.FlagSet, f *runFlags, stdout, log io.Writer) error {
	pc, err := policyConfig(fs, f)
	if err != nil {
		return err
	}
	shardI, shardN, err := parseShard(f.Shard)
	if err != nil {
		return err
	}
	out := f.OutputDir
	if out == "" {
		out = f.Output
	}
	if out == "" {
		out = filepath.Join("results", fmt.Sprintf("%s_%s", strings.TrimSuffix(filepath.Base(f.Benchmark), filepath.Ext(f.Benchmark)), f.Policy))
	}
	all, err := loadInstances(ctx, f, log)
	if err != nil {
		return err
	}
	dataset, err := datasetInfo(f.Benchmark, all)
	if err != nil {
		return err
	}
	if f.NumInstances > 0 && f.NumInstances < len(all) {
		all = all[:f.NumInstances]
	}
	var ins []benchmark.Instance
	for i, in := range all {
		if i%shardN == shardI {
			ins = append(ins, in)
		}
	}

	// The configuration that must not change when a run is resumed: what
	// decides each instance's records.
	modelID := f.Model
	if f.isTestModel() {
		modelID += " (random weights)"
	}
	config := map[string]any{
		"benchmark":   f.Benchmark,
		"dataset":     datasetDigests(dataset),
		"model":       modelID,
		"quant":       f.Quant,
		"engine":      map[bool]string{true: "openai", false: "llama.cpp"}[len(f.Endpoints) > 0],
		"api_mode":    f.APIMode,
		"kv_unified":  f.KVUnified,
		"detector":    f.Detector,
		"policy":      structMap(pc),
		"max_traces":  maxTraces(pc),
		"shard":       f.Shard,
		"random":      f.isTestModel(),
		"tool_schema": 1,
	}
	f.addConfig(config)
	now := time.Now().UTC()
	host, _ := os.Hostname()
	run := record.Run{
		Tool: "deepconf", Version: version, Config: config, Dataset: dataset,
		RandomModel: f.isTestModel(), Started: now, Updated: now,
		Sessions: []record.Session{{Started: now, Host: host, Shard: f.Shard}},
	}
	dir, err := store.Open(out, run)
	if err != nil {
		return err
	}
	defer dir.Close()
	dir.Run().Sessions[len(dir.Run().Sessions)-1].Completed = dir.Completed()
	var todo []benchmark.Instance
	for _, in := range ins {
		if !dir.Done(in.ID) {
			todo = append(todo, in)
		}
	}
	fmt.Fprintf(log, "deepconf: %s: %d instances (%d done), policy %s, output %s\n", f.Benchmark, len(ins), len(ins)-len(todo), f.Policy, out)
	if len(todo) == 0 {
		return finishRun(ctx, dir, f, false, stdout, log)
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
	eng, err := f.openEngine(ctx, f.K, f.MaxTokens, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	// The first instance's prompt, rendered: its template family and text
	// go into run.json, and a model whose template cannot be rendered
	// fails here, before any trace.
	info, err := engine.InfoFor(eng, engine.Prompt{System: pc.System, User: ins[0].Prompt, Thinking: pc.Thinking})
	if err != nil {
		return err
	}
	dir.Run().Engine = structMap(info)
	det, judge, err := openDetector(ctx, f, log)
	if err != nil {
		return err
	}
	if judge != nil {
		defer judge.Close()
	}
	if err := dir.SaveRun(); err != nil {
		return err
	}
	pr := newProgress(log, len(ins), len(ins)-len(todo))
	skipped, err := sampleAll(ctx, eng, det, pc, todo, conc, dir, pr)
	pr.close()
	if err := dir.SaveRun(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted with %d of %d instances done; run the same command again to resume", dir.Completed(), len(ins))
	}
	if err != nil {
		return fmt.Errorf("%w (%d of %d instances done and saved; run the same command again to resume)", err, dir.Completed(), len(ins))
	}
	if skipped > 0 {
		fmt.Fprintf(log, "deepconf: %d instances skipped (prompt too long for the context); raise --ctx and run again to add them\n", skipped)
		return nil
	}
	return finishRun(ctx, dir, f, true, stdout, log)
}

// maxTraces is the per-instance trace budget (the prototype's max_traces,
// which its token-savings baseline uses).
func maxTraces(c controller.Config) int {
	switch c.Policy {
	case controller.PolicySeed:
		return c.SeedMaxTraces
	case controller.PolicyDeepConf:
		return c.Budget
	case controller.PolicySingle:
		return 1
	}
	return c.Traces
}

// structMap converts a struct to a JSON object map.
func structMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // exact 64-bit integers (seeds)
	var m map[string]any
	dec.Decode(&m)
	return m
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

// sampleAll runs the instances, conc at a time, and writes each finished
// instance in benchmark order, so that the files do not depend on timing. At
// most conc instances are held in memory, written or not.
func sampleAll(ctx context.Context, e engine.Engine, det refusal.Detector, pc controller.Config, todo []benchmark.Instance, conc int, dir *store.Dir, pr *progress) (skipped int, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type slot struct {
		out controller.Outcome
		err error
		ok  bool
	}
	slots := make([]slot, len(todo))
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	go func() {
		for i := range todo {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := controller.Run(ctx, e, det, pc, todo[i])
				mu.Lock()
				slots[i] = slot{out: out, err: err, ok: true}
				cond.Broadcast()
				mu.Unlock()
			}()
		}
	}()
	var firstErr error
	for i := range todo {
		mu.Lock()
		for !slots[i].ok && ctx.Err() == nil {
			cond.Wait()
		}
		s := slots[i]
		slots[i] = slot{ok: true}
		mu.Unlock()
		if !s.ok {
			break
		}
		if s.err != nil {
			if errors.Is(s.err, engine.ErrContextOverflow) {
				fmt.Fprintf(pr.log, "deepconf: skipping %s: %v\n", todo[i].ID, s.err)
				skipped++
				<-sem
				continue
			}
			firstErr = s.err
			break
		}
		if err := dir.Write(s.out.Prediction, s.out.Traces); err != nil {
			firstErr = err
			break
		}
		dir.Run().Updated = time.Now().UTC()
		pr.add(s.out.Prediction.TracesGenerated, s.out.Prediction.TokensGenerated)
		<-sem
	}
	cancel()
	go func() { // wake the waiter if the context ended while it waited
		mu.Lock()
		cond.Broadcast()
		mu.Unlock()
	}()
	wg.Wait()
	return skipped, firstErr
}

// finishRun marks the run finished, prints where the outputs are and, unless
// --no-analyze or --shard, analyses it as deepconf analyze DIR does
// (analysis.json, figures, report.html). A run that was already finished is
// analysed again only when it has no analysis.json. A failed analysis loses
// nothing: the run's files are saved before it starts.
func finishRun(ctx context.Context, dir *store.Dir, f *runFlags, fresh bool, stdout, log io.Writer) error {
	now := time.Now().UTC()
	dir.Run().Finished = &now
	if err := dir.SaveRun(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d instances in %s (%s, %s, %s)\n", dir.Completed(), dir.Path(), record.RunFile, record.TracesFile, record.PredictionsFile)
	switch {
	case f.NoAnalyze:
		return nil
	case f.Shard != "":
		fmt.Fprintf(log, "deepconf: shard %s done; join the shards with deepconf merge, then run deepconf analyze on the merged directory\n", f.Shard)
		return nil
	case !fresh:
		if _, err := os.Stat(filepath.Join(dir.Path(), record.AnalysisFile)); err == nil {
			return nil
		}
	}
	if err := analyzeRun(ctx, dir.Path(), runreport.AnalyzeOptions{}, stdout, log); err != nil {
		return fmt.Errorf("the run is complete and saved in %s, but its analysis failed: %w (deepconf analyze %s retries it)", dir.Path(), err, dir.Path())
	}
	return nil
}
