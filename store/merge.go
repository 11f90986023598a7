package store

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/record"
	"github.com/gofrs/flock"
)

// MergeOptions configure Merge.
type MergeOptions struct {
	// Strict refuses a merge when some shards i/n are missing.
	Strict bool
	// Version is the tool version recorded in merge.json.
	Version string
	// Warn, if not nil, receives the merge's warnings as they arise: a
	// missing shard, lines of an interrupted shard that were left out,
	// an order taken from the shards' positions.
	Warn func(msg string)
}

// MergeResult describes a finished merge.
type MergeResult struct {
	// Instances and Traces are the numbers of merged records.
	Instances, Traces int
	// Shards is the number of shards merged, of N.
	Shards, N int
	// Finished reports that every shard is present and finished (the
	// merged run.json is then finished).
	Finished bool
}

// mergeShard is one shard directory being merged.
type mergeShard struct {
	dir      string
	run      record.Run
	shard    Shard // the shard, 0/1 for a run without one
	lock     *flock.Flock
	preds    *os.File
	traces   *os.File
	contents *contents
	ntraces  int
}

// Merge joins the run directories of the shards of a run (dirs, in any
// order) into the run directory out, as if the benchmark had been run in
// one process: predictions.jsonl in benchmark order and traces.jsonl
// grouped in the same instance order, each instance's traces in trace index
// order, every line byte for byte as the shard wrote it. run.json gets the
// shards' configuration without the shard, their sessions joined, the
// engine and dataset of the first shard, and is finished when every shard
// is; merge.json (record.Merge) lists the shards.
//
// The shards must have the same configuration apart from the shard, be
// distinct i/n of the same n, and hold no instance twice. Unfinished
// shards are merged with the instances they finished, read as Open would
// resume them; the shard directories are never changed, and a shard in use
// by a run is refused (ErrInUse).
//
// out is written through a temporary directory renamed into place at the
// end. An existing out must be empty or a previous merge of shards with
// the same configuration, which is then replaced as a whole.
func Merge(ctx context.Context, out string, dirs []string, o MergeOptions) (res MergeResult, err error) {
	warn := func(format string, args ...any) {
		if o.Warn != nil {
			o.Warn(fmt.Sprintf(format, args...))
		}
	}
	if out == "" {
		return res, errors.New("merge: no output directory")
	}
	if len(dirs) == 0 {
		return res, errors.New("merge: no shard directories")
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return res, err
	}
	seen := map[string]string{}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return res, err
		}
		if abs == out {
			return res, fmt.Errorf("merge: the output directory %s is one of the shard directories", out)
		}
		if prev, ok := seen[abs]; ok {
			return res, fmt.Errorf("merge: shard directory %s is given twice (as %s and %s)", abs, prev, d)
		}
		seen[abs] = d
	}

	shards, err := openShards(dirs)
	defer func() {
		for _, s := range shards {
			s.close()
		}
	}()
	if err != nil {
		return res, err
	}
	config, missing, err := checkShards(shards)
	if err != nil {
		return res, err
	}
	n := shards[0].shard.N
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing shard%s %s: the merge holds %d of %d shards", plural(len(missing)), strings.Join(missing, ", "), len(shards), n)
		if o.Strict {
			return res, fmt.Errorf("merge: %s (strict)", msg)
		}
		warn("warning: %s", msg)
	}
	replace, err := checkMergeOut(out, config)
	if err != nil {
		return res, err
	}

	for _, s := range shards {
		if err := s.index(ctx, warn); err != nil {
			return res, err
		}
	}
	entries, byIndex, err := mergeOrder(shards)
	if err != nil {
		return res, err
	}
	if !byIndex {
		warn("the predictions' index is not the benchmark order (a benchmark of several files); ordering by shard position")
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return res, fmt.Errorf("merge: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".merge-")
	if err != nil {
		return res, fmt.Errorf("merge: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	ntraces, err := writeMerged(ctx, tmp, shards, entries)
	if err != nil {
		return res, err
	}
	run, info := mergedRun(shards, config, missing)
	info.Version = o.Version
	if err := writeJSON(filepath.Join(tmp, record.RunFile), run); err != nil {
		return res, fmt.Errorf("merge: %w", err)
	}
	if err := writeJSON(filepath.Join(tmp, record.MergeFile), info); err != nil {
		return res, fmt.Errorf("merge: %w", err)
	}
	if err := replaceDir(tmp, out, replace); err != nil {
		return res, err
	}
	return MergeResult{Instances: len(entries), Traces: ntraces, Shards: len(shards), N: n, Finished: run.Finished != nil}, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// openShards reads each shard's run.json and shard, takes a shared lock on
// the directory (so that no run writes to it meanwhile) and opens its
// files. The shards come back sorted by shard index; the caller closes
// them, also on error.
func openShards(dirs []string) ([]*mergeShard, error) {
	var shards []*mergeShard
	for _, dir := range dirs {
		s := &mergeShard{dir: dir}
		shards = append(shards, s)
		run, err := ReadRun(dir)
		if err != nil {
			return shards, fmt.Errorf("merge: shard %s: %w", dir, err)
		}
		s.run = run
		if s.shard, err = ParseShard(run.Config.Shard); err != nil {
			return shards, fmt.Errorf("merge: %s: config field shard: %w", filepath.Join(dir, record.RunFile), err)
		}
		if s.shard.N == 0 {
			s.shard = Shard{I: 0, N: 1}
		}
		if s.lock, err = lockDir(dir, false); err != nil {
			if errors.Is(err, ErrInUse) {
				return shards, fmt.Errorf("merge: shard %s is in use by a running deepconf process; merge it when that run has stopped", dir)
			}
			return shards, fmt.Errorf("merge: shard %s: %w", dir, err)
		}
		if s.preds, err = os.Open(filepath.Join(dir, record.PredictionsFile)); err != nil {
			return shards, fmt.Errorf("merge: shard %s: %w", dir, err)
		}
		s.traces, err = os.Open(filepath.Join(dir, record.TracesFile))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return shards, fmt.Errorf("merge: shard %s: %w", dir, err)
		}
	}
	slices.SortStableFunc(shards, func(a, b *mergeShard) int { return cmp.Compare(a.shard.I, b.shard.I) })
	return shards, nil
}

func (s *mergeShard) close() {
	for _, f := range []*os.File{s.preds, s.traces} {
		if f != nil {
			f.Close()
		}
	}
	if s.lock != nil {
		s.lock.Close()
	}
}

// withoutShard returns config for the whole run: shard "", as a run without
// a shard has, so that a run can continue a merged directory (to add the
// instances of a missing shard, say).
func withoutShard(config record.RunConfig) record.RunConfig {
	config.Shard = ""
	return config
}

// checkShards checks that the shards have one configuration apart from
// the shard and are distinct i/n of one n; it returns the merged
// configuration and the missing shards.
func checkShards(shards []*mergeShard) (record.RunConfig, []string, error) {
	first := shards[0]
	config := withoutShard(first.run.Config)
	for _, s := range shards[1:] {
		if diff := Diff(config, withoutShard(s.run.Config)); len(diff) > 0 {
			return config, nil, fmt.Errorf("merge: shards %s and %s were run with different configurations:\n  %s",
				first.dir, s.dir, strings.Join(diff, "\n  "))
		}
	}
	have := map[int]string{}
	for _, s := range shards {
		if s.shard.N != first.shard.N {
			return config, nil, fmt.Errorf("merge: shard %s is %s and shard %s is %s: shards must split the benchmark the same way (the same n)", first.dir, first.shard, s.dir, s.shard)
		}
		if prev, ok := have[s.shard.I]; ok {
			return config, nil, fmt.Errorf("merge: shards %s and %s are both %s", prev, s.dir, s.shard)
		}
		have[s.shard.I] = s.dir
	}
	var missing []string
	for i := range first.shard.N {
		if _, ok := have[i]; !ok {
			missing = append(missing, Shard{I: i, N: first.shard.N}.String())
		}
	}
	return config, missing, nil
}

// checkMergeOut checks that out may be written: it does not exist, is an
// empty directory, or is a previous merge (merge.json) of shards with the
// same configuration; replace reports that it exists.
func checkMergeOut(out string, config record.RunConfig) (replace bool, err error) {
	fi, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("merge: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("merge: the output %s is a file", out)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return false, fmt.Errorf("merge: %w", err)
	}
	if len(ents) == 0 {
		return true, nil
	}
	b, err := os.ReadFile(filepath.Join(out, record.MergeFile))
	if err != nil {
		return false, fmt.Errorf("merge: the output %s is not empty and holds no previous merge (%s); choose another directory", out, record.MergeFile)
	}
	var prev record.Merge
	if err := json.Unmarshal(b, &prev); err != nil {
		return false, fmt.Errorf("merge: %s: %w", filepath.Join(out, record.MergeFile), describeJSONError(err))
	}
	if diff := Diff(prev.Config, config); len(diff) > 0 {
		return false, fmt.Errorf("merge: the output %s holds a merge of shards with another configuration; choose another directory:\n  %s", out, strings.Join(diff, "\n  "))
	}
	return true, nil
}

// index reads where the shard's finished instances and their traces are,
// as Open reads them when a run resumes: a partial last line is left out,
// and so are the trace lines of instances without a prediction (in flight
// when the run stopped). Any other malformed line is an error.
func (s *mergeShard) index(ctx context.Context, warn func(string, ...any)) error {
	c, err := scanContents(ctx, s.dir, true)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	s.contents = c
	s.ntraces = len(c.keep)
	if c.partialPreds > 0 {
		warn("%s: ignoring a partial last line (the shard's run was interrupted)", filepath.Join(s.dir, record.PredictionsFile))
	}
	if n := c.orphans + btoi(c.partialTraces > 0); n > 0 {
		warn("%s: ignoring %d trace lines of unfinished instances (the shard's run was interrupted)", filepath.Join(s.dir, record.TracesFile), n)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mergeEntry is a finished instance of a shard.
type mergeEntry struct {
	*entry
	shard *mergeShard
}

// mergeOrder checks that no instance is in two shards and returns every
// instance in benchmark order. Shard i of n holds the instances at
// positions i, i + n, i + 2n, … of the benchmark, each shard's files in
// that order. When the predictions' index (the instance's data row) is
// unique and increases along every shard, as for benchmarks read from one
// file, it is the benchmark order even across instances a shard skipped;
// otherwise (benchmarks of several files, whose rows restart at 0) the
// k-th instance of shard i is at position k·n + i.
func mergeOrder(shards []*mergeShard) ([]mergeEntry, bool, error) {
	var all []mergeEntry
	where := map[string]*mergeShard{}
	indexes := map[int]bool{}
	byIndex := true
	for _, s := range shards {
		last := -1
		for _, e := range s.contents.entries {
			if prev, dup := where[e.id]; dup {
				return nil, false, fmt.Errorf("merge: instance %s is in two shards: %s (%s) and %s (%s)",
					e.id, prev.dir, prev.shard, s.dir, s.shard)
			}
			where[e.id] = s
			if !e.hasIndex || e.index <= last || indexes[e.index] {
				byIndex = false
			}
			last = e.index
			indexes[e.index] = true
			all = append(all, mergeEntry{e, s})
		}
	}
	n := shards[0].shard.N
	slices.SortFunc(all, func(a, b mergeEntry) int {
		if byIndex {
			return cmp.Compare(a.index, b.index)
		}
		return cmp.Compare(a.seq*n+a.shard.shard.I, b.seq*n+b.shard.shard.I)
	})
	return all, byIndex, nil
}

// writeMerged writes predictions.jsonl and traces.jsonl into dir, copying
// the lines of each instance in order; it returns the number of traces.
func writeMerged(ctx context.Context, dir string, shards []*mergeShard, entries []mergeEntry) (int, error) {
	var buf []byte
	ntraces := 0
	err := atomicfile.Write(filepath.Join(dir, record.TracesFile), func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		for k, e := range entries {
			if k%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			slices.SortFunc(e.traces, func(a, b lineRef) int { return cmp.Compare(a.index, b.index) })
			for _, t := range e.traces {
				b, err := readLine(e.shard.traces, t, &buf)
				if err != nil {
					return err
				}
				bw.Write(b)
			}
			ntraces += len(e.traces)
		}
		return bw.Flush()
	})
	if err != nil {
		return 0, fmt.Errorf("merge: %w", err)
	}
	err = atomicfile.Write(filepath.Join(dir, record.PredictionsFile), func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		for k, e := range entries {
			if k%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			b, err := readLine(e.shard.preds, e.line, &buf)
			if err != nil {
				return err
			}
			bw.Write(b)
		}
		return bw.Flush()
	})
	if err != nil {
		return 0, fmt.Errorf("merge: %w", err)
	}
	return ntraces, nil
}

// mergedRun builds run.json and merge.json of the merge: the shards'
// configuration without the shard, the first shard's tool, engine and
// dataset, the earliest start and latest update, every session, the
// shards' skipped instances, the sum of their instances when every shard
// is present, and the latest finish when every shard is present and
// finished.
func mergedRun(shards []*mergeShard, config record.RunConfig, missing []string) (record.Run, record.Merge) {
	first := shards[0].run
	run := record.Run{
		Tool: first.Tool, Version: first.Version, Config: config, Engine: first.Engine, Dataset: first.Dataset,
		RandomModel: first.RandomModel, Started: first.Started, Updated: first.Updated,
	}
	info := record.Merge{Tool: "deepconf merge", Merged: time.Now().UTC(), Missing: missing, Config: config}
	if info.Missing == nil {
		info.Missing = []string{}
	}
	finished := len(missing) == 0
	// The instances of the run: the shards', when every shard is here
	// and recorded its number.
	known := len(missing) == 0
	var last time.Time
	for _, s := range shards {
		r := s.run
		run.RandomModel = run.RandomModel || r.RandomModel
		if r.Started.Before(run.Started) {
			run.Started = r.Started
		}
		if r.Updated.After(run.Updated) {
			run.Updated = r.Updated
		}
		run.Sessions = append(run.Sessions, r.Sessions...)
		run.Instances += r.Instances
		run.Skipped = append(run.Skipped, r.Skipped...)
		run.SkippedAccepted = run.SkippedAccepted || r.SkippedAccepted
		if r.Instances == 0 {
			known = false
		}
		if r.Finished == nil {
			finished = false
		} else if r.Finished.After(last) {
			last = *r.Finished
		}
		abs, err := filepath.Abs(s.dir)
		if err != nil {
			abs = s.dir
		}
		info.Shards = append(info.Shards, record.MergedShard{Dir: abs, Shard: s.shard.String(), Instances: len(s.contents.entries), Traces: s.ntraces, Finished: r.Finished != nil})
	}
	if finished {
		run.Finished = &last
	}
	if !known {
		run.Instances = 0
	}
	return run, info
}

// replaceDir moves the finished merge tmp to out. An existing out (empty,
// or a previous merge) is first moved aside and removed at the end: a
// crash in between leaves the new merge in tmp and the old one next to it,
// and the shards are untouched, so the merge can simply be run again.
func replaceDir(tmp, out string, exists bool) error {
	if err := atomicfile.SyncDir(tmp); err != nil {
		return fmt.Errorf("merge: sync %s: %w", tmp, err)
	}
	old := ""
	if exists {
		old = tmp + ".old"
		if err := os.Rename(out, old); err != nil {
			return fmt.Errorf("merge: move the previous %s aside: %w", out, err)
		}
	}
	if err := os.Rename(tmp, out); err != nil {
		if old != "" {
			os.Rename(old, out)
		}
		return fmt.Errorf("merge: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(out)); err != nil {
		return fmt.Errorf("merge: sync %s: %w", filepath.Dir(out), err)
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("merge: remove the previous merge %s: %w", old, err)
		}
	}
	return nil
}
