package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
			if mr.Finished == nil || len(mr.Sessions) != tt.shards || mr.Engine == nil || mr.Engine.Name != "llama.cpp" || !mr.RandomModel {
				t.Errorf("merged run.json: finished %v, %d sessions, engine %+v", mr.Finished, len(mr.Sessions), mr.Engine)
			}
			var info record.Merge
			b, err := os.ReadFile(filepath.Join(merged, record.MergeFile))
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

// TestMergeNeedsOutput: -o is required.
func TestMergeNeedsOutput(t *testing.T) {
	if _, _, err := runMergeCmd(t, t.TempDir()); err == nil || !strings.Contains(err.Error(), "-o/--output: give the merged run directory") {
		t.Errorf("merge without -o: %v", err)
	}
}
