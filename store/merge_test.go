package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepconf/deepconf/record"
)

// merge runs Merge with the arguments of deepconf merge (-o OUT, --strict,
// shard directories) and returns its summary line and its warnings.
func merge(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out string
	var o MergeOptions
	var dirs []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-o":
			i++
			out = args[i]
		case "--strict":
			o.Strict = true
		default:
			dirs = append(dirs, args[i])
		}
	}
	var warnings strings.Builder
	o.Warn = func(msg string) { warnings.WriteString(msg + "\n") }
	res, err := Merge(context.Background(), out, dirs, o)
	if err != nil {
		return "", warnings.String(), err
	}
	state := "unfinished"
	if res.Finished {
		state = "finished"
	}
	return fmt.Sprintf("merged %d instances (%d traces) from %d of %d shards (%s)", res.Instances, res.Traces, res.Shards, res.N, state), warnings.String(), nil
}

// handShard writes a shard directory by hand: run.json with the config
// (and the shard), and the given instances of the prototype's synthetic
// IDs, each with the given number of traces (written before its
// prediction, as deepconf run does).
func handShard(t *testing.T, dir, shard string, config record.RunConfig, indexes []int, traces int) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := config
	cfg.Shard = shard
	now := time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)
	run := record.Run{Tool: "deepconf", Version: "test", Config: cfg, Engine: &record.EngineInfo{Name: "fake " + shard},
		Started: now, Updated: now, Finished: &now, Sessions: []record.Session{{Started: now, Shard: shard}}, Instances: len(indexes)}
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
	config := record.RunConfig{Model: "m", Benchmark: "xstest", Policy: json.RawMessage(`{"budget":16}`)}
	other := record.RunConfig{Model: "m", Benchmark: "xstest", Policy: json.RawMessage(`{"budget":8}`)}
	root := t.TempDir()
	shard := func(name, spec string, cfg record.RunConfig, indexes ...int) string {
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
		{"no output", []string{s0, s1}, "no output directory"},
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
		_, _, err := merge(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(notEmpty, "notes.txt")); string(b) != "mine" {
		t.Error("the non-empty output directory was changed")
	}

	// A previous merge of another configuration is not overwritten.
	prev := filepath.Join(root, "prev")
	if _, stderr, err := merge(t, "-o", prev, s0, s1); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if _, _, err := merge(t, "-o", prev, changed); err == nil || !strings.Contains(err.Error(), "another configuration") {
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
	_, _, err = merge(t, "-o", filepath.Join(root, "o7"), s0, s1)
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
	config := record.RunConfig{Model: "m"}
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
	stdout, stderr, err := merge(t, "-o", out, s0, s1)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "merged 4 instances (10 traces)") || !strings.Contains(stderr, "partial last line") || !strings.Contains(stderr, "ignoring 2 trace lines") {
		t.Errorf("stdout %q\nstderr %q", stdout, stderr)
	}
	var ids []string
	for _, l := range lines(t, filepath.Join(out, record.PredictionsFile)) {
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
	for _, l := range lines(t, filepath.Join(out, record.TracesFile)) {
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
	r, err := ReadRun(out)
	if err != nil || r.Finished == nil || r.Engine == nil || r.Engine.Name != "fake 0/2" || len(r.Sessions) != 2 || r.Instances != 4 {
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
		d, err := Open(dir, record.Run{Config: record.RunConfig{Model: "bench", Shard: spec}})
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
		if _, err := Merge(context.Background(), out, dirs, MergeOptions{}); err != nil {
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
