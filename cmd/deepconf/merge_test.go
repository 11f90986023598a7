package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/store"
)

// runMergeCmd runs deepconf merge in-process and returns its stdout and
// stderr.
func runMergeCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	return execute(newMergeCmd(), args...)
}

// TestMergeMatchesSingleRun runs a benchmark whole and as shards with the
// same seed on the tiny model, merges the shards and expects the merged
// predictions.jsonl and traces.jsonl to be byte-identical to the single
// run's. XSTest is one file (the index is the benchmark order); the
// synthetic benchmark has two parts whose indexes restart at 0 (the
// shards' positions give the order).
func TestMergeMatchesSingleRun(t *testing.T) {
	bin := buildDeepconf(t)
	data := filepath.Join(shareddata.Dir(t), "xstest")
	tests := []struct {
		name       string
		args       []string
		shards     int
		byPosition bool
	}{
		{"xstest 2 shards", []string{"--benchmark", "xstest", "--data", data, "--num-instances", "7"}, 2, false},
		{"synthetic 3 shards", []string{"--benchmark", "synthetic", "--num-instances", "10"}, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			run := func(out, shard string) {
				t.Helper()
				args := append([]string{"run", "--model", "test:tiny", "--threads", "1", "--max-tokens", "24", "--output-dir", out}, tt.args...)
				if shard != "" {
					args = append(args, "--shard", shard)
				}
				if b, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
					t.Fatalf("deepconf %s: %v\n%s", strings.Join(args, " "), err, b)
				}
			}
			single := filepath.Join(root, "single")
			run(single, "")
			var shards []string
			for i := range tt.shards {
				dir := filepath.Join(root, fmt.Sprintf("shard%d", i))
				run(dir, fmt.Sprintf("%d/%d", i, tt.shards))
				shards = append(shards, dir)
			}
			// Shards in reverse order on the command line: the order of
			// the arguments must not matter.
			merged := filepath.Join(root, "merged")
			args := []string{"-o", merged}
			for i := len(shards) - 1; i >= 0; i-- {
				args = append(args, shards[i])
			}
			stdout, stderr, err := runMergeCmd(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, stderr)
			}
			if !strings.Contains(stdout, fmt.Sprintf("from %d of %d shards", tt.shards, tt.shards)) || !strings.Contains(stdout, "(finished)") {
				t.Errorf("stdout %q", stdout)
			}
			if got := strings.Contains(stderr, "ordering by shard position"); got != tt.byPosition {
				t.Errorf("ordered by shard position: %v, want %v (stderr %q)", got, tt.byPosition, stderr)
			}
			for _, f := range []string{record.PredictionsFile, record.TracesFile} {
				want, err := os.ReadFile(filepath.Join(single, f))
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(merged, f))
				if err != nil {
					t.Fatal(err)
				}
				if len(want) == 0 || !bytes.Equal(got, want) {
					t.Errorf("merged %s differs from the single run's (%d vs %d bytes)", f, len(got), len(want))
					diffLines(t, want, got)
				}
			}

			sr, err := store.ReadRun(single)
			if err != nil {
				t.Fatal(err)
			}
			mr, err := store.ReadRun(merged)
			if err != nil {
				t.Fatal(err)
			}
			// The merged config is the unsharded run's, so deepconf run
			// can continue the merged directory.
			if diff := store.Diff(sr.Config, mr.Config); len(diff) > 0 {
				t.Errorf("merged config differs from the single run's: %v", diff)
			}
			if mr.Finished == nil || len(mr.Sessions) != tt.shards || mr.Engine["name"] != "llama.cpp" || !mr.RandomModel {
				t.Errorf("merged run.json: finished %v, %d sessions, engine %v", mr.Finished, len(mr.Sessions), mr.Engine["name"])
			}
			var info mergeInfo
			b, err := os.ReadFile(filepath.Join(merged, mergeFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &info); err != nil || len(info.Shards) != tt.shards || info.Shards[0].Shard != fmt.Sprintf("0/%d", tt.shards) || len(info.Missing) != 0 {
				t.Errorf("merge.json: %v\n%s", err, b)
			}

			// Merging again into the previous merge replaces it.
			before, _ := os.ReadFile(filepath.Join(merged, record.TracesFile))
			if _, stderr, err := runMergeCmd(t, append([]string{"-o", merged}, shards...)...); err != nil {
				t.Fatalf("merge into the previous merge: %v\n%s", err, stderr)
			}
			after, _ := os.ReadFile(filepath.Join(merged, record.TracesFile))
			if !bytes.Equal(before, after) {
				t.Error("merging again changed traces.jsonl")
			}
			if ents, _ := os.ReadDir(root); len(ents) != tt.shards+2 {
				t.Errorf("%d entries in %s, want the runs and the merge only (no temporary directories left)", len(ents), root)
			}

			// One shard alone: a warning, an unfinished merge; --strict refuses.
			part := filepath.Join(root, "part")
			stdout, stderr, err = runMergeCmd(t, "-o", part, shards[0])
			if err != nil || !strings.Contains(stderr, "missing") || !strings.Contains(stdout, "(unfinished)") {
				t.Errorf("partial merge: %v, stdout %q, stderr %q", err, stdout, stderr)
			}
			if r, err := store.ReadRun(part); err != nil || r.Finished != nil {
				t.Errorf("partial merge: %v, finished %v", err, r.Finished)
			}
			if _, _, err := runMergeCmd(t, "-o", filepath.Join(root, "strict"), "--strict", shards[0]); err == nil || !strings.Contains(err.Error(), "missing") {
				t.Errorf("--strict with a missing shard: %v", err)
			}
		})
	}
}

// handShard writes a shard directory by hand: run.json with the config
// (and the shard), and the given instances of the prototype's synthetic
// IDs, each with the given number of traces (written before its
// prediction, as deepconf run does).
func handShard(t *testing.T, dir, shard string, config map[string]any, indexes []int, traces int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{"shard": shard}
	for k, v := range config {
		cfg[k] = v
	}
	now := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	run := record.Run{Tool: "deepconf", Version: "test", Config: cfg, Engine: map[string]any{"name": "fake " + shard},
		Started: now, Updated: now, Finished: &now, Sessions: []record.Session{{Started: now, Shard: shard}}}
	b, err := json.Marshal(run)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, record.RunFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	var preds, trs bytes.Buffer
	for _, i := range indexes {
		id := fmt.Sprintf("xstest_test_%d", i)
		for j := range traces {
			b, _ := json.Marshal(record.Trace{InstanceID: id, Index: j, Text: fmt.Sprintf("trace %d of %d", j, i), Tokens: 3, Finish: record.FinishStop, Label: record.Compliance})
			trs.Write(append(b, '\n'))
		}
		b, _ := json.Marshal(record.Prediction{InstanceID: id, Index: i, GoldLabel: "benign", Behaviour: record.Compliance, NumTracesUsed: traces, TracesGenerated: traces})
		preds.Write(append(b, '\n'))
	}
	if err := os.WriteFile(filepath.Join(dir, record.PredictionsFile), preds.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, record.TracesFile), trs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestMergeErrors(t *testing.T) {
	config := map[string]any{"model": "m", "benchmark": "xstest", "policy": map[string]any{"budget": 16}}
	other := map[string]any{"model": "m", "benchmark": "xstest", "policy": map[string]any{"budget": 8}}
	root := t.TempDir()
	shard := func(name, spec string, cfg map[string]any, indexes ...int) string {
		dir := filepath.Join(root, name)
		handShard(t, dir, spec, cfg, indexes, 2)
		return dir
	}
	s0 := shard("s0", "0/2", config, 0, 2, 4)
	s1 := shard("s1", "1/2", config, 1, 3)
	changed := shard("changed", "1/2", other, 1, 3)
	dup := shard("dup", "1/2", config, 1, 2)
	again := shard("again", "0/2", config, 6)
	three := shard("three", "1/3", config, 1)
	notEmpty := filepath.Join(root, "not-empty")
	if err := os.MkdirAll(notEmpty, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(notEmpty, "notes.txt"), []byte("mine"), 0o644)

	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no output", []string{s0, s1}, "-o OUT is required"},
		{"config mismatch", []string{"-o", filepath.Join(root, "o1"), s0, changed}, "policy.budget: 16 → 8"},
		{"duplicate instance", []string{"-o", filepath.Join(root, "o2"), s0, dup}, "instance xstest_test_2 is in two shards"},
		{"same shard twice", []string{"-o", filepath.Join(root, "o3"), s0, again}, "are both 0/2"},
		{"different n", []string{"-o", filepath.Join(root, "o4"), s0, three}, "the same n"},
		{"directory twice", []string{"-o", filepath.Join(root, "o5"), s0, s0}, "given twice"},
		{"output is a shard", []string{"-o", s0, s0, s1}, "is one of the shard directories"},
		{"non-empty output", []string{"-o", notEmpty, s0, s1}, "holds no previous merge"},
		{"no run.json", []string{"-o", filepath.Join(root, "o6"), s0, notEmpty}, "run.json"},
	}
	for _, tt := range tests {
		_, _, err := runMergeCmd(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(notEmpty, "notes.txt")); string(b) != "mine" {
		t.Error("the non-empty output directory was changed")
	}

	// A previous merge of another configuration is not overwritten.
	prev := filepath.Join(root, "prev")
	if _, stderr, err := runMergeCmd(t, "-o", prev, s0, s1); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if _, _, err := runMergeCmd(t, "-o", prev, changed); err == nil || !strings.Contains(err.Error(), "another configuration") {
		t.Errorf("merge of another configuration into a previous merge: %v", err)
	}
	if _, err := os.Stat(filepath.Join(prev, record.PredictionsFile)); err != nil {
		t.Error(err)
	}

	// A shard in use by a running deepconf (which holds .lock exclusively).
	lock, err := os.OpenFile(filepath.Join(s1, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	_, _, err = runMergeCmd(t, "-o", filepath.Join(root, "o7"), s0, s1)
	syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	lock.Close()
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("merge of a shard in use: %v", err)
	}
}

// TestMergeInterruptedShard merges a shard whose run was killed: a partial
// last prediction line and the traces of the instance in flight are left
// out, as deepconf run leaves them out when it resumes.
func TestMergeInterruptedShard(t *testing.T) {
	root := t.TempDir()
	config := map[string]any{"model": "m"}
	s0, s1 := filepath.Join(root, "s0"), filepath.Join(root, "s1")
	handShard(t, s0, "0/2", config, []int{0, 2}, 2)
	handShard(t, s1, "1/2", config, []int{1, 3}, 3)
	// s1 was killed while writing instance 5: its traces are on disk, its
	// prediction only partly.
	tf, err := os.OpenFile(filepath.Join(s1, record.TracesFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(tf, `{"instance_id":"xstest_test_5","index":0,"text":"in flight"}`+"\n"+`{"instance_id":"xstest_test_5","index":1,"te`)
	tf.Close()
	pf, err := os.OpenFile(filepath.Join(s1, record.PredictionsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(pf, `{"instance_id":"xstest_test_5","traces":["in fl`)
	pf.Close()

	out := filepath.Join(root, "out")
	stdout, stderr, err := runMergeCmd(t, "-o", out, s0, s1)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "merged 4 instances (10 traces)") || !strings.Contains(stderr, "partial last line") || !strings.Contains(stderr, "ignoring 2 trace lines") {
		t.Errorf("stdout %q\nstderr %q", stdout, stderr)
	}
	var ids []string
	for _, l := range readLines(t, filepath.Join(out, record.PredictionsFile)) {
		var p record.Prediction
		if err := json.Unmarshal([]byte(l), &p); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.InstanceID)
	}
	if got := strings.Join(ids, " "); got != "xstest_test_0 xstest_test_1 xstest_test_2 xstest_test_3" {
		t.Errorf("merged instances %s", got)
	}
	var traces []string
	for _, l := range readLines(t, filepath.Join(out, record.TracesFile)) {
		var tr record.Trace
		if err := json.Unmarshal([]byte(l), &tr); err != nil {
			t.Fatal(err)
		}
		traces = append(traces, fmt.Sprintf("%s/%d", strings.TrimPrefix(tr.InstanceID, "xstest_test_"), tr.Index))
	}
	if got := strings.Join(traces, " "); got != "0/0 0/1 1/0 1/1 1/2 2/0 2/1 3/0 3/1 3/2" {
		t.Errorf("merged traces %s", got)
	}
	// The shard itself is untouched.
	if b, _ := os.ReadFile(filepath.Join(s1, record.PredictionsFile)); !bytes.HasSuffix(b, []byte(`"in fl`)) {
		t.Error("the shard was modified")
	}
	r, err := store.ReadRun(out)
	if err != nil || r.Finished == nil || r.Engine["name"] != "fake 0/2" || len(r.Sessions) != 2 {
		t.Errorf("run.json: %v, %+v", err, r)
	}
}

// BenchmarkMergeToxicChatSize merges 4 shards of a generated
// ToxicChat-sized run (5,083 instances × 10 traces × 256 tokens, per-token
// confidences and log-probabilities stored, ~1,000-character texts). The
// shards are written through store (as deepconf run writes them) before
// the timer starts. It reports the merged traces.jsonl's size and the
// process's peak resident set (ru_maxrss: generation and merge together,
// so an upper bound of the merge's).
func BenchmarkMergeToxicChatSize(b *testing.B) {
	const instances, traces, tokens, shards = 5083, 10, 256, 4
	root := b.TempDir()
	text := strings.Repeat("Sure, here is a long answer. ", 35)
	var dirs []string
	for s := range shards {
		spec := fmt.Sprintf("%d/%d", s, shards)
		dir := filepath.Join(root, fmt.Sprintf("shard%d", s))
		d, err := store.Open(dir, record.Run{Config: map[string]any{"model": "bench", "shard": spec}})
		if err != nil {
			b.Fatal(err)
		}
		for i := s; i < instances; i += shards {
			id := fmt.Sprintf("toxicchat_test_%d", i)
			trs := make([]record.Trace, traces)
			for j := range trs {
				tc, tl := make([]float32, tokens), make([]float32, tokens)
				for k := range tc {
					tc[k] = 1 + float32((i*31+j*7+k)%97)/10
					tl[k] = -float32((i+j*13+k)%89) / 17
				}
				trs[j] = record.Trace{InstanceID: id, Index: j, Seed: uint64(i*100 + j), Phase: record.PhaseFixed, Text: text,
					Tokens: tokens, Finish: record.FinishLength, Used: true, Label: record.Compliance, TokenConfidences: tc, TokenLogprobs: tl}
			}
			p := record.Prediction{InstanceID: id, Index: i, GoldLabel: "benign", Behaviour: record.Compliance, NumTracesUsed: traces,
				TracesGenerated: traces, Traces: slices.Repeat([]string{text}, traces)}
			if err := d.Write(p, trs); err != nil {
				b.Fatal(err)
			}
		}
		now := time.Now()
		d.Run().Finished = &now
		if err := d.SaveRun(); err != nil {
			b.Fatal(err)
		}
		d.Close()
		dirs = append(dirs, dir)
	}
	out := filepath.Join(root, "merged")
	for b.Loop() {
		if err := runMerge(context.Background(), dirs, mergeOptions{Out: out}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, err := os.Stat(filepath.Join(out, record.TracesFile))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "MiB-traces")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "MB-peakRSS")
	}
}
