// Package runner runs a benchmark: it loads the benchmark, opens the run
// directory (package store: resumable, crash-safe, refusing a changed
// configuration), samples the unfinished instances with the controller, a
// bounded number at a time, and writes each instance in benchmark order so
// that the files do not depend on timing. It records in run.json what
// decides the records (record.RunConfig) and where they came from.
//
// The caller opens the engine, the refusal detector and the optional harm
// detector (OpenEngine, OpenDetector, OpenHarmDetector: they are only
// opened when there is work to do) and shows
// the progress (Progress); package runner prints nothing.
package runner

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
	"strings"
	"sync"
	"time"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/setting"
	"github.com/deepconf/deepconf/modelinfo"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/store"
)

// ToolSchema is run.json's config.tool_schema: the version of the records'
// meaning. A run directory of another schema is not resumed.
const ToolSchema = 1

// Engine kinds recorded in run.json's config.engine.
const (
	EngineLlamaCPP = "llama.cpp"
	EngineOpenAI   = "openai"
)

// Data names the benchmark of a run.
type Data struct {
	// Benchmark is a benchmark name (benchmark.Names) or a CSV, JSONL or
	// Parquet file read with Mapping.
	Benchmark string
	// Path is the local file or directory of a named benchmark; when it
	// is "", the files are downloaded with Fetch.
	Path string
	// Fetch downloads a named benchmark's files when Path is "".
	Fetch benchmark.FetchFunc
	// Mapping names the fields of a benchmark file; its Name is the file's
	// base name without extension.
	Mapping benchmark.Mapping
	// NumInstances runs the first NumInstances instances (0: all).
	NumInstances int
}

// Progress receives a run's progress. Its functions are called one at a
// time, from Run's goroutine; nil ones are not called.
type Progress struct {
	// Open is called when the run's state is known (the benchmark loaded,
	// the directory inspected): the run has total instances (this
	// shard's), done of them finished before.
	Open func(total, done int)
	// Start is called when sampling starts (the engine and the detector
	// are open), with the same numbers; not when nothing is left to do.
	Start func(total, done int)
	// Instance is called after each instance is written.
	Instance func(p *record.Prediction)
	// Skip is called for an instance that is skipped because its prompt
	// does not fit the engine's context.
	Skip func(id string, err error)
}

// Options describe a run.
type Options struct {
	// Dir is the run directory.
	Dir string
	// Data is the benchmark.
	Data Data
	// Policy is the sampling policy's configuration.
	Policy controller.Config
	// Shard selects a shard of the benchmark (the zero Shard: all).
	Shard store.Shard
	// Concurrency is the number of instances sampled at once (≥ 1).
	Concurrency int
	// AllowSkipped finishes a run whose session skipped instances (their
	// prompt does not fit the engine's context); without it such a run
	// stays unfinished and Run returns an error wrapping ErrSkipped.
	AllowSkipped bool

	// What run.json's configuration records of the engine, the model and
	// the detector (record.RunConfig).
	EngineKind string // EngineLlamaCPP or EngineOpenAI
	Model      string // the model as given
	Random     bool   // a generated random-weight model
	Quant      string
	APIMode    string
	KVUnified  bool
	Detector   string
	// HarmDetector is the response-harm judge's spec (judge:<model>), ""
	// for none, and HarmFormat its judge format; run.json records both,
	// so a resumed run keeps them.
	HarmDetector string
	HarmFormat   string
	// ChatTemplate and ReasoningDelimiters are the --chat-template and
	// --reasoning-delimiters settings as given ("" when not).
	ChatTemplate        string
	ReasoningDelimiters string

	// OpenEngine opens the engine; Run closes it.
	OpenEngine func(ctx context.Context) (engine.Engine, error)
	// OpenDetector opens the refusal detector and returns a function
	// that releases it (nil: nothing to release).
	OpenDetector func(ctx context.Context) (refusal.Detector, func() error, error)
	// OpenHarmDetector opens the harm detector of HarmDetector (required
	// with it), given the opened refusal detector (which it may share, as
	// refusal.OpenHarm does), and returns a function that releases it
	// (nil: nothing to release).
	OpenHarmDetector func(ctx context.Context, det refusal.Detector) (refusal.HarmDetector, func() error, error)

	// Version is the tool version recorded in run.json.
	Version string
	// Progress receives the run's progress.
	Progress Progress
}

// Validate checks the options that Run checks before it reads anything:
// each invalid setting is a *setting.Error named by the snake_case name
// of its field (concurrency, num_instances, engine_kind, and the policy's
// JSON keys).
func (o *Options) Validate() error {
	var v setting.Checker
	v.Check(o.Concurrency >= 1, "concurrency", o.Concurrency, "must be ≥ 1")
	v.Check(o.Data.NumInstances >= 0, "num_instances", o.Data.NumInstances, "must be ≥ 0 (0: all)")
	v.Check(o.EngineKind == EngineLlamaCPP || o.EngineKind == EngineOpenAI, "engine_kind", o.EngineKind, "want "+EngineLlamaCPP+" or "+EngineOpenAI)
	v.Check(o.Dir != "", "dir", o.Dir, "give the run directory")
	err := errors.Join(v.Err(), o.Policy.Validate())
	if err == nil && (o.OpenEngine == nil || o.OpenDetector == nil) {
		err = errors.New("runner: OpenEngine and OpenDetector are required")
	}
	if err == nil && o.HarmDetector != "" && o.OpenHarmDetector == nil {
		err = errors.New("runner: a HarmDetector needs OpenHarmDetector")
	}
	return err
}

// ErrSkipped is returned (wrapped, with the count and the remedy) when a
// session skipped instances and Options.AllowSkipped is not set.
var ErrSkipped = errors.New("instances were skipped")

// Result describes how a run ended.
type Result struct {
	// Dir is the run directory.
	Dir string
	// Instances is the number of instances of the run (this shard's).
	Instances int
	// Completed is the number of them finished, in this session and
	// before.
	Completed int
	// Skipped counts the instances skipped in this session because their
	// prompt does not fit the engine's context (run.json lists them).
	Skipped int
	// Finished reports that run.json is marked finished: every instance
	// is done, or the rest were skipped and AllowSkipped was set.
	Finished bool
	// Replaced reports that the directory held a run of another
	// configuration that had finished no instance (a failed start), which
	// this run replaced.
	Replaced bool
	// Analyze reports that the finished run wants its analysis: it
	// finished in this session, or earlier but its analysis is incomplete
	// (AnalysisComplete). A shard never does (its analysis comes after the
	// merge).
	Analyze bool
}

// Run runs the benchmark o describes, or continues it in o.Dir, until every
// instance is finished. It proves its inputs before it writes anything:
// the options, the benchmark, the directory (a run of another
// configuration, or in use, is refused: store.Inspect), then, when there is
// work to do, the engine, the model (a resumed run refuses another one:
// store.DiffEngine) and the detector; only then is the directory created
// and run.json written. A cancelled ctx stops it with every finished
// instance saved; running it again continues.
func Run(ctx context.Context, o Options) (Result, error) {
	res := Result{Dir: o.Dir}
	if err := o.Validate(); err != nil {
		return res, err
	}
	all, err := Load(ctx, o.Data)
	if err != nil {
		return res, err
	}
	dataset, err := describeDataset(o.Data.Benchmark, all)
	if err != nil {
		return res, err
	}
	if o.Data.NumInstances > 0 && o.Data.NumInstances < len(all) {
		all = all[:o.Data.NumInstances]
	}
	var ins []benchmark.Instance
	for i, in := range all {
		if o.Shard.Has(i) {
			ins = append(ins, in)
		}
	}
	if len(ins) == 0 {
		return res, fmt.Errorf("shard %s of the %d instances selected holds none: use fewer shards", o.Shard, len(all))
	}
	res.Instances = len(ins)

	config, err := runConfig(o, dataset)
	if err != nil {
		return res, err
	}
	ex, err := store.Inspect(ctx, o.Dir, config)
	if err != nil {
		return res, err
	}
	var todo []benchmark.Instance
	for _, in := range ins {
		if !ex.Done(in.ID) {
			todo = append(todo, in)
		}
	}
	if o.Progress.Open != nil {
		o.Progress.Open(len(ins), len(ins)-len(todo))
	}
	now := time.Now().UTC()
	host, _ := os.Hostname()
	run := record.Run{
		Tool: "deepconf", Version: o.Version, Config: config, Dataset: dataset,
		RandomModel: o.Random, Instances: len(ins), Started: now, Updated: now,
		Sessions: []record.Session{{Started: now, Host: host, Shard: o.Shard.String(), Completed: ex.Completed(), Concurrency: o.Concurrency}},
	}
	if len(todo) == 0 {
		dir, err := store.Open(o.Dir, run)
		if err != nil {
			return res, err
		}
		defer dir.Close()
		return finish(dir, o, res, nil, false)
	}

	eng, err := o.OpenEngine(ctx)
	if err != nil {
		return res, err
	}
	defer eng.Close()
	// The first instance's prompt, rendered: its template family and text
	// go into run.json, and a model whose template cannot be rendered
	// fails here, before any trace.
	first, err := engine.InfoFor(eng, engine.Prompt{System: o.Policy.System, User: ins[0].Prompt, Thinking: o.Policy.Thinking})
	if err != nil {
		return res, err
	}
	if run.Engine, err = engineInfo(first); err != nil {
		return res, err
	}
	if !run.RandomModel && run.Engine.ModelSHA256 != "" {
		// A generated model passed by its path is still random
		// (its GGUF metadata says so).
		run.RandomModel = modelinfo.RandomWeights(run.Engine.Model)
	}
	run.Sessions[0].Threads, run.Sessions[0].Parallel = first.Threads, first.Parallel
	if ex.Run != nil && ex.Completed() > 0 {
		// Refused before the detector (a judge model) is loaded; Open
		// checks it again under the lock.
		if diff := store.DiffEngine(ex.Run.Engine, run.Engine); len(diff) > 0 {
			return res, fmt.Errorf("%s: %w; use another output directory, or resume with the original model and engine:\n  %s",
				o.Dir, store.ErrModelChanged, strings.Join(diff, "\n  "))
		}
	}
	det, closeDet, err := o.OpenDetector(ctx)
	if err != nil {
		return res, err
	}
	if closeDet != nil {
		defer closeDet()
	}
	var opts []controller.RunOption
	if o.HarmDetector != "" {
		harm, closeHarm, err := o.OpenHarmDetector(ctx, det)
		if err != nil {
			return res, err
		}
		if closeHarm != nil {
			defer closeHarm()
		}
		opts = append(opts, controller.WithHarmDetector(harm))
	}
	dir, err := store.Open(o.Dir, run)
	if err != nil {
		return res, err
	}
	defer dir.Close()
	res.Replaced = dir.Replaced()
	if o.Progress.Start != nil {
		o.Progress.Start(len(ins), len(ins)-len(todo))
	}
	skipped, err := sampleAll(ctx, eng, det, o.Policy, todo, o.Concurrency, dir, o.Progress, opts...)
	res.Completed, res.Skipped = dir.Completed(), len(skipped)
	dir.Run().Skipped = skipped
	if err := dir.SaveRun(); err != nil {
		return res, err
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("interrupted with %d of %d instances done; run the same command again to resume", dir.Completed(), len(ins))
	}
	if err != nil {
		return res, fmt.Errorf("%w (%d of %d instances done and saved; run the same command again to resume)", err, dir.Completed(), len(ins))
	}
	return finish(dir, o, res, skipped, true)
}

// finish marks the run finished, unless instances were skipped without
// AllowSkipped, and says whether it wants its analysis: a run that was
// already finished does only when its analysis is incomplete.
func finish(dir *store.Dir, o Options, res Result, skipped []record.Skip, fresh bool) (Result, error) {
	res.Completed = dir.Completed()
	if len(skipped) > 0 && !o.AllowSkipped {
		return res, fmt.Errorf("%w: %d of %d instances (%s): raise --ctx and run the same command again to add them, or pass --allow-skipped to finish the run without them",
			ErrSkipped, len(skipped), res.Instances, skipReasons(skipped))
	}
	now := time.Now().UTC()
	dir.Run().Finished = &now
	dir.Run().SkippedAccepted = len(skipped) > 0
	if err := dir.SaveRun(); err != nil {
		return res, err
	}
	res.Finished = true
	if o.Shard.Whole() {
		res.Analyze = fresh || !AnalysisComplete(dir.Path())
	}
	return res, nil
}

// skipReasons summarises why instances were skipped.
func skipReasons(skipped []record.Skip) string {
	if len(skipped) == 1 {
		return skipped[0].InstanceID + ": " + skipped[0].Reason
	}
	return "their prompts do not fit the engine's context; run.json lists them"
}

// AnalysisComplete reports whether the run directory dir holds a complete
// analysis: analysis.json (written last) and report.html.
func AnalysisComplete(dir string) bool {
	for _, f := range []string{record.AnalysisFile, record.ReportFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return false
		}
	}
	return true
}

// runConfig is the configuration that must not change when a run is
// resumed: what decides each instance's records.
func runConfig(o Options, dataset *record.Dataset) (record.RunConfig, error) {
	policy, err := policyJSON(o.Policy)
	if err != nil {
		return record.RunConfig{}, err
	}
	model := o.Model
	if o.Random {
		model += " (random weights)"
	}
	return record.RunConfig{
		APIMode:             o.APIMode,
		Benchmark:           o.Data.Benchmark,
		ChatTemplate:        o.ChatTemplate,
		Dataset:             datasetDigests(dataset),
		Detector:            o.Detector,
		HarmDetector:        o.HarmDetector,
		HarmFormat:          o.HarmFormat,
		Engine:              o.EngineKind,
		KVUnified:           o.KVUnified,
		MaxTraces:           MaxTraces(o.Policy),
		Model:               model,
		Policy:              policy,
		Quant:               o.Quant,
		Random:              o.Random,
		ReasoningDelimiters: o.ReasoningDelimiters,
		Shard:               o.Shard.String(),
		ToolSchema:          ToolSchema,
	}, nil
}

// policyJSON encodes the policy configuration with its keys sorted, as
// run.json has always recorded it (a controller.Config decodes it in any
// order). Numbers keep their exact text (64-bit seeds).
func policyJSON(c controller.Config) (json.RawMessage, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode the policy configuration: %w", err)
	}
	return sortKeys(b)
}

// sortKeys re-encodes a JSON object with the keys of every object sorted.
func sortKeys(b []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return json.Marshal(v) // encoding/json sorts map keys
}

// engineInfo is run.json's description of the engine.
func engineInfo(info engine.Info) (*record.EngineInfo, error) {
	r := &record.EngineInfo{
		Device: info.Device, Model: info.Model, ModelSHA256: info.ModelSHA256, Name: info.Name,
		Parallel: info.Parallel, Threads: info.Threads, Version: info.Version,
		ChatTemplate: info.ChatTemplate, ChatTemplateOrigin: info.ChatTemplateOrigin,
		FirstPrompt: info.FirstPrompt, ReasoningDelimiters: info.ReasoningDelimiters,
		Reproducible: info.Reproducible, ReproducibleNote: info.ReproducibleNote,
	}
	if fi, err := os.Stat(info.Model); err == nil && fi.Mode().IsRegular() && info.ModelSHA256 != "" {
		r.ModelBytes = fi.Size()
	}
	if len(info.Details) > 0 {
		b, err := json.Marshal(info.Details)
		if err != nil {
			return nil, fmt.Errorf("encode the engine's details: %w", err)
		}
		r.Details = b
	}
	return r, nil
}

// MaxTraces is the per-instance trace budget of a policy (the prototype's
// max_traces, which its token-savings baseline uses).
func MaxTraces(c controller.Config) int {
	switch c.Policy {
	case controller.PolicyPrototype:
		return c.PrototypeMaxTraces
	case controller.PolicyDeepConf:
		return c.Budget
	case controller.PolicySingle:
		return 1
	}
	return c.Traces
}

// Load loads the benchmark d names: a benchmark name, or a file read with
// d.Mapping. It returns every instance; d.NumInstances is applied by Run.
func Load(ctx context.Context, d Data) ([]benchmark.Instance, error) {
	if _, ok := benchmark.Lookup(d.Benchmark); !ok {
		// A file with a field mapping.
		if _, serr := os.Stat(d.Benchmark); serr != nil {
			return nil, fmt.Errorf("benchmark %q is neither a known benchmark (%s) nor a file", d.Benchmark, strings.Join(benchmark.Names(), ", "))
		}
		m := d.Mapping
		m.Name = strings.TrimSuffix(filepath.Base(d.Benchmark), filepath.Ext(d.Benchmark))
		return benchmark.LoadMapped(ctx, d.Benchmark, m, benchmark.FormatAuto)
	}
	opts := benchmark.Options{Data: d.Path}
	if d.Benchmark == "synthetic" && d.NumInstances > 0 {
		opts.SyntheticSize = d.NumInstances
	}
	if d.Path == "" {
		opts.Fetch = d.Fetch
	}
	return benchmark.Load(ctx, d.Benchmark, opts)
}

// describeDataset describes the benchmark files for run.json: each file's
// sha256 and the number of instances.
func describeDataset(name string, ins []benchmark.Instance) (*record.Dataset, error) {
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
	return &record.Dataset{Name: name, Files: files, Rows: len(ins)}, nil
}

// datasetDigests maps each benchmark file's base name to its sha256: the
// data's identity in the configuration, which must not depend on where the
// files are (shards run on different machines, a moved checkout).
func datasetDigests(d *record.Dataset) map[string]string {
	out := map[string]string{}
	for path, sum := range d.Files {
		out[filepath.Base(path)] = sum
	}
	return out
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
		return "", fmt.Errorf("hash %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// sampleAll runs the instances, conc at a time, and writes each finished
// instance in benchmark order, so that the files do not depend on timing. At
// most conc instances are held in memory, written or not. An instance whose
// prompt does not fit the engine's context is skipped (and counted); any
// other error stops the run.
func sampleAll(ctx context.Context, e engine.Engine, det refusal.Detector, pc controller.Config, todo []benchmark.Instance, conc int, dir *store.Dir, pr Progress, opts ...controller.RunOption) (skipped []record.Skip, err error) {
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
				out, err := controller.Run(ctx, e, det, pc, todo[i], opts...)
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
				if pr.Skip != nil {
					pr.Skip(todo[i].ID, s.err)
				}
				skipped = append(skipped, record.Skip{InstanceID: todo[i].ID, Reason: s.err.Error()})
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
		if pr.Instance != nil {
			pr.Instance(&s.out.Prediction)
		}
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
