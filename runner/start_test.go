package runner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/enginetest"
	"github.com/deepconf/deepconf/internal/setting"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/refusal"
	"github.com/deepconf/deepconf/store"
)

// modelEngine is streamEngine with a model file's sha256 in its Info.
type modelEngine struct {
	*enginetest.Engine
	sha string
}

func (e modelEngine) Info() engine.Info {
	info := e.Engine.Info()
	info.ModelSHA256, info.Version = e.sha, "v1"
	return info
}

// TestFailedStartWritesNothing: a run whose engine, detector or data fails
// to open creates no directory, and the corrected command runs in the
// same place; a directory left by a run that finished no instance takes a
// corrected configuration.
func TestFailedStartWritesNothing(t *testing.T) {
	ctx := context.Background()
	for name, breakIt := range map[string]func(*Options){
		"engine": func(o *Options) {
			o.OpenEngine = func(context.Context) (engine.Engine, error) { return nil, errors.New("no model") }
		},
		"detector": func(o *Options) {
			o.OpenDetector = func(context.Context) (refusal.Detector, func() error, error) { return nil, nil, errors.New("no judge") }
		},
		"data":  func(o *Options) { o.Data.Benchmark = filepath.Join(t.TempDir(), "missing.csv") },
		"shard": func(o *Options) { o.Shard = store.Shard{I: 5, N: 6}; o.Data.NumInstances = 3 },
	} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out", "run")
			var ev events
			o := options(dir, 3, &ev, nil)
			breakIt(&o)
			if _, err := Run(ctx, o); err == nil {
				t.Fatal("no error")
			}
			if _, err := os.Stat(filepath.Join(dir, "..")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed start created %s: %v", filepath.Dir(dir), err)
			}
			// The corrected command (here with another model name).
			o = options(dir, 3, &ev, nil)
			o.Model = "corrected.gguf"
			if res, err := Run(ctx, o); err != nil || !res.Finished {
				t.Errorf("corrected run: %+v, %v", res, err)
			}
		})
	}
	// A run that stopped before its first instance (here: every prompt
	// overflows) does not block another configuration.
	dir := t.TempDir()
	var ev events
	all, _ := Load(ctx, Data{Benchmark: "synthetic", NumInstances: 2})
	e := overflowEngine{Engine: streamEngine(), prompts: map[string]bool{all[0].Prompt: true, all[1].Prompt: true}}
	if _, err := Run(ctx, options(dir, 2, &ev, e)); !errors.Is(err, ErrSkipped) {
		t.Fatalf("all skipped: %v", err)
	}
	o := options(dir, 2, &ev, nil)
	o.Model = "other.gguf"
	if res, err := Run(ctx, o); err != nil || !res.Replaced || res.Completed != 2 {
		t.Errorf("replacing an unstarted run: %+v, %v", res, err)
	}
}

// TestResumeRefusesAnotherModel: a resumed run whose engine reports another
// model sha256 is refused with the difference before the detector is
// opened, and run.json keeps the original sha256.
func TestResumeRefusesAnotherModel(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var ev events
	if _, err := Run(ctx, options(dir, 2, &ev, modelEngine{streamEngine(), "aaa"})); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, record.RunFile))
	o := options(dir, 4, &ev, modelEngine{streamEngine(), "bbb"})
	detectors := 0
	o.OpenDetector = func(context.Context) (refusal.Detector, func() error, error) {
		detectors++
		det, err := refusal.New(refusal.SpecPatterns)
		return det, nil, err
	}
	_, err := Run(ctx, o)
	if !errors.Is(err, store.ErrModelChanged) || !strings.Contains(err.Error(), "model_sha256: aaa → bbb") || detectors != 0 {
		t.Errorf("err %v, %d detectors opened", err, detectors)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, record.RunFile)); !bytes.Equal(before, after) {
		t.Error("run.json changed")
	}
	// The original model resumes.
	if res, err := Run(ctx, options(dir, 4, &ev, modelEngine{streamEngine(), "aaa"})); err != nil || res.Completed != 4 {
		t.Errorf("resume: %+v, %v", res, err)
	}
}

// TestOptionsValidate: invalid options are refused before anything is
// read, each named by its setting (for a command line to name its flag).
func TestOptionsValidate(t *testing.T) {
	var ev events
	o := options(filepath.Join(t.TempDir(), "run"), 3, &ev, nil)
	o.Concurrency, o.Data.NumInstances, o.Policy.Budget, o.Policy.Sampling.TopP = 0, -1, 0, 2
	err := o.Validate()
	var names []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		collect(e, &names)
	}
	if got := strings.Join(names, " "); got != "concurrency num_instances top_p budget" {
		t.Errorf("invalid settings %q (%v)", got, err)
	}
	if _, rerr := Run(context.Background(), o); rerr == nil || ev.engines != 0 {
		t.Errorf("Run: %v, %d engines", rerr, ev.engines)
	}
}

// collect appends the names of the setting errors in err.
func collect(err error, names *[]string) {
	var se *setting.Error
	switch {
	case errors.As(err, &se) && err == error(se):
		*names = append(*names, se.Name)
	default:
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				collect(e, names)
			}
		}
	}
}
