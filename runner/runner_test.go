package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/store"
)

// overflowEngine is streamEngine, except that the prompts it names do not
// fit its context.
type overflowEngine struct {
	*enginetest.Engine
	prompts map[string]bool
}

func (e overflowEngine) Open(ctx context.Context, p engine.Prompt) (engine.Session, error) {
	if e.prompts[p.User] {
		return nil, fmt.Errorf("prompt of 9999 tokens: %w", engine.ErrContextOverflow)
	}
	return e.Engine.Open(ctx, p)
}

// events records what a run reported.
type events struct {
	opened, started []int
	instances       []string
	skipped         []string
	engines         int
}

// options returns the options of a run of the first n synthetic instances
// on streamEngine (or e) into dir, recording what the run reports in ev.
func options(dir string, n int, ev *events, e engine.Engine) Options {
	pc := controller.Default(controller.PolicyFixed)
	pc.Traces, pc.Sampling.MaxTokens = 2, 8
	if e == nil {
		e = streamEngine()
	}
	return Options{
		Dir: dir, Data: Data{Benchmark: "synthetic", NumInstances: n}, Policy: pc, Concurrency: 3,
		EngineKind: EngineLlamaCPP, Model: "test:tiny", Random: true, Detector: refusal.SpecPatterns, Version: "test",
		OpenEngine: func(context.Context) (engine.Engine, error) {
			ev.engines++
			return e, nil
		},
		OpenDetector: func(context.Context) (refusal.Detector, func() error, error) {
			det, err := refusal.New(refusal.SpecPatterns)
			return det, nil, err
		},
		Progress: Progress{
			Open:     func(total, done int) { ev.opened = append(ev.opened, total, done) },
			Start:    func(total, done int) { ev.started = append(ev.started, total, done) },
			Instance: func(p *record.Prediction) { ev.instances = append(ev.instances, p.InstanceID) },
			Skip:     func(id string, err error) { ev.skipped = append(ev.skipped, id) },
		},
	}
}

// TestRun runs, resumes and refuses runs on a scripted engine: the
// instances are written in benchmark order whatever the concurrency, a
// finished run opens no engine, wants its analysis until it has one, and
// refuses another configuration; a shard never wants it.
func TestRun(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "run")
	var ev events
	res, err := Run(ctx, options(dir, 6, &ev, nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Result{Dir: dir, Instances: 6, Completed: 6, Finished: true, Analyze: true}); res != want {
		t.Errorf("result %+v, want %+v", res, want)
	}
	all, err := Load(ctx, Data{Benchmark: "synthetic", NumInstances: 6})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, in := range all {
		ids = append(ids, in.ID)
	}
	if got := strings.Join(ev.instances, " "); got != strings.Join(ids, " ") || fmt.Sprint(ev.opened, ev.started) != "[6 0] [6 0]" || ev.engines != 1 {
		t.Errorf("progress: opened %v, started %v, instances %s, %d engines", ev.opened, ev.started, got, ev.engines)
	}
	run, err := store.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := run.Config
	if c.Model != "test:tiny (random weights)" || !c.Random || c.MaxTraces != 2 || c.Engine != EngineLlamaCPP || c.ToolSchema != ToolSchema ||
		c.Benchmark != "synthetic" || c.Dataset == nil || run.Engine == nil || run.Engine.Name != "stream" || run.Finished == nil || !run.RandomModel ||
		run.Dataset == nil || run.Dataset.Rows != 6 || len(run.Sessions) != 1 {
		t.Errorf("run.json: %+v", run)
	}
	var policy controller.Config
	if err := json.Unmarshal(c.Policy, &policy); err != nil || policy != options(dir, 6, &ev, nil).Policy {
		t.Errorf("run.json config.policy %s: %v", c.Policy, err)
	}

	// Again: nothing to do, no engine; the analysis is still wanted.
	ev = events{}
	if res, err = Run(ctx, options(dir, 6, &ev, nil)); err != nil || !res.Finished || !res.Analyze || ev.engines != 0 || ev.started != nil {
		t.Errorf("finished run again: %+v, %v, %d engines, started %v", res, err, ev.engines, ev.started)
	}
	// analysis.json alone (the analysis was killed before report.html,
	// or report.html was deleted) is not a complete analysis.
	if err := os.WriteFile(filepath.Join(dir, record.AnalysisFile), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err = Run(ctx, options(dir, 6, &ev, nil)); err != nil || !res.Analyze {
		t.Errorf("half-analysed run again: %+v, %v", res, err)
	}
	if err := os.WriteFile(filepath.Join(dir, record.ReportFile), []byte("<html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	if res, err = Run(ctx, options(dir, 6, &ev, nil)); err != nil || res.Analyze {
		t.Errorf("analysed run again: %+v, %v", res, err)
	}
	// More instances continue the run.
	ev = events{}
	if res, err = Run(ctx, options(dir, 8, &ev, nil)); err != nil || res.Completed != 8 || !res.Analyze || len(ev.instances) != 2 || fmt.Sprint(ev.started) != "[8 6]" {
		t.Errorf("extended run: %+v, %v, %+v", res, err, ev)
	}
	// Another configuration is refused with the difference.
	o := options(dir, 8, &ev, nil)
	o.Policy.Traces = 3
	if _, err := Run(ctx, o); !errors.Is(err, store.ErrConfigChanged) || !strings.Contains(err.Error(), "max_traces: 2 → 3") {
		t.Errorf("changed configuration: %v", err)
	}

	// A shard runs its instances and never wants the analysis.
	ev = events{}
	o = options(filepath.Join(t.TempDir(), "shard"), 6, &ev, nil)
	o.Shard = store.Shard{I: 1, N: 2}
	res, err = Run(ctx, o)
	if err != nil || res.Instances != 3 || !res.Finished || res.Analyze || strings.Join(ev.instances, " ") != strings.Join([]string{ids[1], ids[3], ids[5]}, " ") {
		t.Errorf("shard 1/2: %+v, %v, %v", res, err, ev.instances)
	}
}

// TestRunSkips: an instance whose prompt does not fit the context is
// skipped, the others are written, and run.json lists it; the run is not
// finished and Run fails with ErrSkipped, unless AllowSkipped finishes it
// without the instance.
func TestRunSkips(t *testing.T) {
	ctx := context.Background()
	all, err := Load(ctx, Data{Benchmark: "synthetic", NumInstances: 6})
	if err != nil {
		t.Fatal(err)
	}
	var ev events
	dir := t.TempDir()
	e := overflowEngine{Engine: streamEngine(), prompts: map[string]bool{all[2].Prompt: true}}
	res, err := Run(ctx, options(dir, 6, &ev, e))
	if !errors.Is(err, ErrSkipped) || !strings.Contains(err.Error(), "1 of 6 instances") || !strings.Contains(err.Error(), "--allow-skipped") ||
		res.Skipped != 1 || res.Completed != 5 || res.Finished || res.Analyze || len(ev.skipped) != 1 || ev.skipped[0] != all[2].ID {
		t.Errorf("%+v, %v, skipped %v", res, err, ev.skipped)
	}
	run, err := store.ReadRun(dir)
	if err != nil || run.Finished != nil || run.Instances != 6 || len(run.Skipped) != 1 || run.Skipped[0].InstanceID != all[2].ID ||
		!strings.Contains(run.Skipped[0].Reason, "context overflow") {
		t.Errorf("run.json: %v, %+v", err, run)
	}
	// Accepted: the skipped instance is tried again, skipped again, and
	// the run finishes without it.
	ev = events{}
	o := options(dir, 6, &ev, e)
	o.AllowSkipped = true
	res, err = Run(ctx, o)
	if err != nil || res.Skipped != 1 || !res.Finished || !res.Analyze || res.Completed != 5 {
		t.Errorf("allowed: %+v, %v", res, err)
	}
	if run, err = store.ReadRun(dir); err != nil || run.Finished == nil || !run.SkippedAccepted || len(run.Skipped) != 1 {
		t.Errorf("run.json: %v, %+v", err, run)
	}
}

func TestRunErrors(t *testing.T) {
	ctx := context.Background()
	var ev events
	o := options(t.TempDir(), 3, &ev, nil)
	o.Concurrency = 0
	if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "concurrency 0") {
		t.Errorf("concurrency 0: %v", err)
	}
	o = options(t.TempDir(), 3, &ev, nil)
	o.Data.Benchmark = filepath.Join(t.TempDir(), "missing.jsonl")
	if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "neither a known benchmark") {
		t.Errorf("missing benchmark: %v", err)
	}
	o = options(t.TempDir(), 3, &ev, nil)
	o.OpenEngine = func(context.Context) (engine.Engine, error) { return nil, errors.New("no model") }
	if _, err := Run(ctx, o); err == nil || !strings.Contains(err.Error(), "no model") {
		t.Errorf("engine error: %v", err)
	}
	// A cancelled run says how far it got (the instances that finished
	// before the cancel are written).
	cctx, cancel := context.WithCancel(ctx)
	o = options(t.TempDir(), 8, &ev, nil)
	o.Progress.Instance = func(*record.Prediction) { cancel() }
	res, err := Run(cctx, o)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("interrupted with %d of 8 instances done", res.Completed)) || res.Completed < 1 || res.Completed == 8 {
		t.Errorf("cancelled run: %+v, %v", res, err)
	}
}

// TestDatasetDigests: the configuration names the data by file name and
// sha256, run.json's dataset by path.
func TestDatasetDigests(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bench.jsonl")
	if err := os.WriteFile(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := describeDataset("mine", []benchmark.Instance{{Source: path}, {Source: path}, {}})
	if err != nil {
		t.Fatal(err)
	}
	// sha256("abc"), FIPS 180-2 appendix B.1.
	const sum = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	if d.Name != "mine" || d.Rows != 3 || d.Files[path] != sum || len(d.Files) != 1 {
		t.Errorf("dataset %+v", d)
	}
	if got := datasetDigests(d); len(got) != 1 || got["bench.jsonl"] != sum {
		t.Errorf("digests %v", got)
	}
}

func TestMaxTraces(t *testing.T) {
	for _, tt := range []struct {
		policy string
		want   int
	}{
		{controller.PolicyDeepConf, controller.Default(controller.PolicyDeepConf).Budget},
		{controller.PolicyPrototype, controller.Default(controller.PolicyPrototype).PrototypeMaxTraces},
		{controller.PolicySingle, 1},
		{controller.PolicyFixed, controller.Default(controller.PolicyFixed).Traces},
	} {
		if got := MaxTraces(controller.Default(tt.policy)); got != tt.want {
			t.Errorf("MaxTraces(%s) = %d, want %d", tt.policy, got, tt.want)
		}
	}
}
