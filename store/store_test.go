package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/record"
)

func cfg(seed int) record.Run {
	return record.Run{Tool: "deepconf", Config: record.RunConfig{Model: "m", Policy: json.RawMessage(fmt.Sprintf(`{"seed":%d,"window":16}`, seed))}}
}

func instance(i int) (record.Prediction, []record.Trace) {
	id := fmt.Sprintf("x_%d", i)
	return record.Prediction{InstanceID: id, Index: i, Behaviour: "refusal"},
		[]record.Trace{{InstanceID: id, Index: 0, TokenConfidences: []float32{1, 2}}, {InstanceID: id, Index: 1}}
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func TestWriteAndResume(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, cfg(1))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := d.Write(instance(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Write(instance(1)); err == nil {
		t.Error("writing an instance twice succeeded")
	}
	if _, err := Open(dir, cfg(1)); err == nil {
		t.Error("a second process could open the directory")
	}
	d.Close()
	d, err = Open(dir, cfg(1))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Completed() != 3 || !d.Done("x_2") || d.Done("x_3") {
		t.Errorf("completed %d", d.Completed())
	}
	if n := len(lines(t, filepath.Join(dir, record.TracesFile))); n != 6 {
		t.Errorf("%d trace lines, want 6", n)
	}
}

// TestCrashRepair simulates what kill -9 can leave: traces of an instance
// without its prediction, and a partial last line.
func TestCrashRepair(t *testing.T) {
	for _, tc := range []struct {
		name  string
		crash func(dir string)
	}{
		{"traces without prediction", func(dir string) {
			appendFile(t, filepath.Join(dir, record.TracesFile), `{"instance_id":"x_2","index":0}`+"\n"+`{"instance_id":"x_2","ind`)
		}},
		{"partial prediction", func(dir string) {
			appendFile(t, filepath.Join(dir, record.TracesFile), `{"instance_id":"x_2","index":0}`+"\n")
			appendFile(t, filepath.Join(dir, record.PredictionsFile), `{"instance_id":"x_2","tra`)
		}},
		{"nothing", func(string) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			d, err := Open(dir, cfg(1))
			if err != nil {
				t.Fatal(err)
			}
			for i := range 2 {
				d.Write(instance(i))
			}
			d.Close()
			before := lines(t, filepath.Join(dir, record.TracesFile))
			tc.crash(dir)
			d, err = Open(dir, cfg(1))
			if err != nil {
				t.Fatal(err)
			}
			if d.Completed() != 2 || d.Done("x_2") {
				t.Fatalf("completed %d, x_2 done %v", d.Completed(), d.Done("x_2"))
			}
			if got := lines(t, filepath.Join(dir, record.TracesFile)); strings.Join(got, "\n") != strings.Join(before, "\n") {
				t.Errorf("traces after repair:\n%v\nwant\n%v", got, before)
			}
			if err := d.Write(instance(2)); err != nil {
				t.Fatal(err)
			}
			d.Close()
			if n := len(lines(t, filepath.Join(dir, record.PredictionsFile))); n != 3 {
				t.Errorf("%d predictions, want 3", n)
			}
		})
	}
}

func TestCorruptMiddleLineIsAnError(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir, cfg(1))
	d.Write(instance(0))
	d.Close()
	p := filepath.Join(dir, record.PredictionsFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, append([]byte("garbage\n"), b...), 0o644)
	if _, err := Open(dir, cfg(1)); err == nil || !strings.Contains(err.Error(), "repair the file by hand") {
		t.Fatalf("err %v", err)
	}
	if got, _ := os.ReadFile(p); len(got) != len(b)+8 {
		t.Error("the file was modified")
	}
}

func TestChangedConfigIsRefused(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir, cfg(1))
	d.Write(instance(0))
	d.Close()
	before, _ := os.ReadFile(filepath.Join(dir, record.RunFile))
	_, err := Open(dir, cfg(2))
	if !errors.Is(err, ErrConfigChanged) || !strings.Contains(err.Error(), "policy.seed: 1 → 2") {
		t.Fatalf("err %v", err)
	}
	// Inspect refuses it the same way, before anything is opened.
	if _, err := Inspect(context.Background(), dir, cfg(2).Config); !errors.Is(err, ErrConfigChanged) {
		t.Errorf("Inspect: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, record.RunFile)); !bytes.Equal(after, before) {
		t.Error("a refused Open changed run.json")
	}
}

// TestUnstartedRunIsReplaced: a run that finished no instance (a failed
// start) does not block a corrected configuration.
func TestUnstartedRunIsReplaced(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir, cfg(1))
	d.Close()
	ex, err := Inspect(context.Background(), dir, cfg(2).Config)
	if err != nil || ex.Completed() != 0 {
		t.Fatalf("Inspect: %v", err)
	}
	d, err = Open(dir, cfg(2))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if !d.Replaced() || Diff(d.Run().Config, cfg(2).Config) != nil {
		t.Errorf("replaced %v, config %+v", d.Replaced(), d.Run().Config)
	}
	d.Close()
	// The same configuration resumes it, sessions joined.
	r := cfg(2)
	r.Sessions = []record.Session{{Host: "b"}}
	if d, err = Open(dir, r); err != nil {
		t.Fatal(err)
	}
	if d.Replaced() || len(d.Run().Sessions) != 1 {
		t.Errorf("resumed unstarted run: replaced %v, sessions %+v", d.Replaced(), d.Run().Sessions)
	}
}

// TestInspect: Inspect reports the finished instances and refuses what
// Open would refuse, without creating or changing anything.
func TestInspect(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	missing := filepath.Join(root, "a", "b")
	if ex, err := Inspect(ctx, missing, cfg(1).Config); err != nil || ex.Run != nil || ex.Completed() != 0 {
		t.Errorf("missing directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a")); !errors.Is(err, os.ErrNotExist) {
		t.Error("Inspect created a directory")
	}
	file := filepath.Join(root, "file")
	os.WriteFile(file, nil, 0o644)
	if _, err := Inspect(ctx, file, cfg(1).Config); err == nil || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("a file: %v", err)
	}
	if _, err := Inspect(ctx, filepath.Join(file, "run"), cfg(1).Config); err == nil || !strings.Contains(err.Error(), "cannot create") {
		t.Errorf("under a file: %v", err)
	}
	dir := filepath.Join(root, "run")
	d, _ := Open(dir, cfg(1))
	d.Write(instance(0))
	if _, err := Inspect(ctx, dir, cfg(1).Config); !errors.Is(err, ErrInUse) {
		t.Errorf("in use: %v", err)
	}
	d.Close()
	ex, err := Inspect(ctx, dir, cfg(1).Config)
	if err != nil || ex.Run == nil || ex.Completed() != 1 || !ex.Done("x_0") {
		t.Errorf("Inspect: %v, %+v", err, ex)
	}
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name     string
		old, new record.RunConfig
		want     []string
	}{
		{"equal", record.RunConfig{Model: "m", Policy: json.RawMessage(`{"a":1}`)}, record.RunConfig{Model: "m", Policy: json.RawMessage(`{ "a": 1 }`)}, nil},
		{"nested and top level",
			record.RunConfig{Model: "m", Random: true, Policy: json.RawMessage(`{"a":1,"b":{"c":"x"},"d":true}`)},
			record.RunConfig{Model: "n", Policy: json.RawMessage(`{"a":1.0,"b":{"c":"y"},"e":2}`)},
			[]string{`model: "m" → "n"`, `policy.b.c: "x" → "y"`, "policy.d: true → (unset)", "policy.e: (unset) → 2", "random: true → false"}},
		// 64-bit seeds are compared exactly, not as float64.
		{"large integers", record.RunConfig{Policy: json.RawMessage(`{"seed":18446744073709551615}`)}, record.RunConfig{Policy: json.RawMessage(`{"seed":18446744073709551614}`)},
			[]string{"policy.seed: 18446744073709551615 → 18446744073709551614"}},
		{"numbers by value", record.RunConfig{Policy: json.RawMessage(`{"keep":1e-05}`)}, record.RunConfig{Policy: json.RawMessage(`{"keep":0.00001}`)}, nil},
		{"dataset", record.RunConfig{Dataset: map[string]string{}}, record.RunConfig{Dataset: map[string]string{"a.jsonl": "ff"}}, []string{`dataset.a.jsonl: (unset) → "ff"`}},
	}
	for _, tt := range tests {
		got := Diff(tt.old, tt.new)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("%s: Diff = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestRunJSONKeys: run.json's config, engine and dataset keep the keys (in
// sorted order) that run.json had when they were untyped maps.
func TestRunJSONKeys(t *testing.T) {
	run := record.Run{
		Config:  record.RunConfig{Dataset: map[string]string{}, Policy: json.RawMessage(`{"a":1}`)},
		Engine:  &record.EngineInfo{Details: json.RawMessage(`{"x":1}`)},
		Dataset: &record.Dataset{Files: map[string]string{}},
	}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"config":  `{"api_mode":"","benchmark":"","dataset":{},"detector":"","engine":"","kv_unified":false,"max_traces":0,"model":"","policy":{"a":1},"quant":"","random":false,"shard":"","tool_schema":0}`,
		"engine":  `{"details":{"x":1},"device":"","model":"","name":"","version":""}`,
		"dataset": `{"files":{},"name":"","rows":0}`,
	} {
		if got := string(m[key]); got != want {
			t.Errorf("%s:\n got %s\nwant %s", key, got, want)
		}
	}
}

// TestResumeKeepsEngine: a resumed run keeps the engine description until
// the caller records the new engine; the sessions are joined.
func TestResumeKeepsEngine(t *testing.T) {
	dir := t.TempDir()
	r := cfg(1)
	r.Engine = &record.EngineInfo{Name: "llama.cpp", ModelSHA256: "abc"}
	r.Sessions = []record.Session{{Host: "a"}}
	d, err := Open(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	d.Write(instance(0))
	d.Close()
	r = cfg(1)
	r.Sessions = []record.Session{{Host: "b"}}
	d, err = Open(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if e := d.Run().Engine; e == nil || e.ModelSHA256 != "abc" || len(d.Run().Sessions) != 2 {
		t.Errorf("resumed run: engine %+v, sessions %+v", e, d.Run().Sessions)
	}
}

// TestResumeRefusesAnotherModel: a resumed run whose model (size, sha256),
// engine version or rendered prompt differs is refused with the
// differences, and run.json keeps the original model's sha256.
func TestResumeRefusesAnotherModel(t *testing.T) {
	dir := t.TempDir()
	r := cfg(1)
	r.Engine = &record.EngineInfo{Name: "llama.cpp", Version: "b1", Model: "m.gguf", ModelBytes: 10, ModelSHA256: "aaa", FirstPrompt: "p"}
	d, err := Open(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	d.Write(instance(0))
	d.Close()
	before, _ := os.ReadFile(filepath.Join(dir, record.RunFile))
	r.Engine = &record.EngineInfo{Name: "llama.cpp", Version: "b2", Model: "m.gguf", ModelBytes: 12, ModelSHA256: "bbb", FirstPrompt: "p"}
	_, err = Open(dir, r)
	for _, want := range []string{"model_sha256: aaa → bbb", "model_bytes: 10 → 12", "engine version: b1 → b2"} {
		if !errors.Is(err, ErrModelChanged) || !strings.Contains(err.Error(), want) {
			t.Errorf("err %v, want %q", err, want)
		}
	}
	if after, _ := os.ReadFile(filepath.Join(dir, record.RunFile)); !bytes.Equal(after, before) {
		t.Error("run.json changed")
	}
	// The same model at another path resumes.
	r.Engine = &record.EngineInfo{Name: "llama.cpp", Version: "b1", Model: "moved.gguf", ModelBytes: 10, ModelSHA256: "aaa", FirstPrompt: "p"}
	if d, err = Open(dir, r); err != nil {
		t.Fatal(err)
	}
	d.Close()
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}
