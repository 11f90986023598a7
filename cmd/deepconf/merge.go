package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/store"
	"github.com/spf13/cobra"
)

// mergeFile records in a merged directory which shards it was made of; a
// directory holding it can be merged into again.
const mergeFile = "merge.json"

// mergeInfo is merge.json.
type mergeInfo struct {
	Tool    string         `json:"tool"`
	Version string         `json:"version"`
	Merged  time.Time      `json:"merged"`
	Shards  []mergeSummary `json:"shards"`
	// Missing lists the shards i/n that were not merged.
	Missing []string `json:"missing"`
	// Config is the merged run's configuration (run.json's, without the
	// shard).
	Config map[string]any `json:"config"`
}

// mergeSummary describes one merged shard in merge.json.
type mergeSummary struct {
	Dir       string `json:"dir"`
	Shard     string `json:"shard"`
	Instances int    `json:"instances"`
	Traces    int    `json:"traces"`
	Finished  bool   `json:"finished"`
}

// mergeOptions are the flags of deepconf merge.
type mergeOptions struct {
	Out    string
	Strict bool
}

// newMergeCmd returns the "merge" command, which joins the shard
// directories of a run made with --shard i/n into one run directory.
func newMergeCmd() *cobra.Command {
	var o mergeOptions
	cmd := &cobra.Command{
		Use:   "merge -o OUT SHARD_DIR...",
		Short: "Join the shard directories of a run made with --shard i/n into one run directory",
		Long: `merge joins the output directories of deepconf run --shard i/n into OUT, as if the benchmark had
been run in one process: predictions.jsonl in benchmark order and traces.jsonl grouped in the same
instance order, each instance's traces in trace index order, every line byte for byte as the shard
wrote it. run.json gets the shards' configuration without the shard, their sessions joined, the
engine description of the first shard, and is finished when every shard is; merge.json lists the
shards.

The shards must have the same configuration apart from the shard, be distinct i/n of the same n,
and hold no instance twice. Missing shards are reported (and refused with --strict). Unfinished
shards are merged with the instances they finished (a shard's files are read as deepconf run would
resume them); the shard directories are never changed.

OUT is written through a temporary directory renamed into place at the end. An existing OUT must be
empty or a previous merge of shards with the same configuration, which is then replaced as a whole.`,
		Example: `  deepconf merge -o results/toxicchat results/toxicchat.0 results/toxicchat.1 results/toxicchat.2`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			return runMerge(cmd.Context(), dirs, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.Out, "output", "o", "", "merged run directory (required)")
	f.BoolVar(&o.Strict, "strict", false, "refuse to merge when some shards i/n are missing")
	return cmd
}

// mergeShard is one shard directory being merged.
type mergeShard struct {
	dir    string
	run    record.Run
	spec   string
	i, n   int
	lock   *os.File
	preds  *os.File
	traces *os.File
	// entries are the shard's finished instances in file order.
	entries []*mergeEntry
	ntraces int
}

// mergeEntry is one finished instance: where its prediction line and its
// trace lines are.
type mergeEntry struct {
	id       string
	index    int
	hasIndex bool
	shard    int // position in the sorted shards
	seq      int // position in its shard's predictions.jsonl
	line     lineRef
	traces   []lineRef
}

// lineRef locates a line (with its newline) in a file; index is the
// trace index of a trace line.
type lineRef struct {
	index int
	off   int64
	size  int
}

func runMerge(ctx context.Context, dirs []string, o mergeOptions, stdout, log io.Writer) (err error) {
	if o.Out == "" {
		return fmt.Errorf("merge: -o OUT is required")
	}
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return err
	}
	seen := map[string]string{}
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return err
		}
		if abs == out {
			return fmt.Errorf("merge: -o %s is one of the shard directories", o.Out)
		}
		if prev, ok := seen[abs]; ok {
			return fmt.Errorf("merge: shard directory %s is given twice (as %s and %s)", abs, prev, d)
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
		return err
	}
	config, missing, err := checkShards(shards)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("missing shard%s %s: the merge holds %d of %d shards", plural(len(missing)), strings.Join(missing, ", "), len(shards), shards[0].n)
		if o.Strict {
			return fmt.Errorf("merge: %s (--strict)", msg)
		}
		fmt.Fprintf(log, "deepconf: warning: %s\n", msg)
	}
	replace, err := checkMergeOut(out, config)
	if err != nil {
		return err
	}

	for k, s := range shards {
		if err := s.index(ctx, k, log); err != nil {
			return err
		}
	}
	entries, byIndex, err := mergeOrder(shards)
	if err != nil {
		return err
	}
	if !byIndex {
		fmt.Fprintf(log, "deepconf: the predictions' index is not the benchmark order (a benchmark of several files); ordering by shard position\n")
	}

	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".merge-")
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	ntraces, err := writeMerged(ctx, tmp, shards, entries)
	if err != nil {
		return err
	}
	run, info := mergedRun(shards, config, missing)
	if err := writeJSONFile(filepath.Join(tmp, record.RunFile), run); err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(tmp, mergeFile), info); err != nil {
		return err
	}
	if err := syncDir(tmp); err != nil {
		return err
	}
	if err := replaceDir(tmp, out, replace); err != nil {
		return err
	}
	state := "unfinished"
	if run.Finished != nil {
		state = "finished"
	}
	fmt.Fprintf(stdout, "merged %d instances (%d traces) from %d of %d shards into %s (%s)\n", len(entries), ntraces, len(shards), shards[0].n, o.Out, state)
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// openShards reads each shard's run.json and shard, takes a shared lock on
// the directory (so that no deepconf run writes to it meanwhile) and opens
// its files. The shards come back sorted by shard index; the caller closes
// them, also on error.
func openShards(dirs []string) ([]*mergeShard, error) {
	var shards []*mergeShard
	for _, dir := range dirs {
		s := &mergeShard{dir: dir}
		shards = append(shards, s)
		run, err := store.ReadRun(dir)
		if err != nil {
			return shards, fmt.Errorf("merge: shard %s: %w", dir, err)
		}
		s.run = run
		if v, ok := run.Config["shard"]; ok {
			if s.spec, ok = v.(string); !ok {
				return shards, fmt.Errorf("merge: %s: config field shard: %v is not a string i/n", filepath.Join(dir, record.RunFile), v)
			}
		}
		if s.i, s.n, err = parseShard(s.spec); err != nil {
			return shards, fmt.Errorf("merge: %s: config field shard: %w", filepath.Join(dir, record.RunFile), err)
		}
		s.spec = shardSpec(s.i, s.n)
		if err := s.open(); err != nil {
			return shards, err
		}
	}
	slices.SortStableFunc(shards, func(a, b *mergeShard) int { return cmp.Compare(a.i, b.i) })
	return shards, nil
}

// open locks the shard directory and opens its files.
func (s *mergeShard) open() error {
	lock, err := os.Open(filepath.Join(s.dir, ".lock"))
	switch {
	case err == nil:
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
			lock.Close()
			return fmt.Errorf("merge: shard %s is in use by a running deepconf process; merge it when that run has stopped", s.dir)
		}
		s.lock = lock
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("merge: shard %s: %w", s.dir, err)
	}
	if s.preds, err = os.Open(filepath.Join(s.dir, record.PredictionsFile)); err != nil {
		return fmt.Errorf("merge: shard %s: %w", s.dir, err)
	}
	s.traces, err = os.Open(filepath.Join(s.dir, record.TracesFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("merge: shard %s: %w", s.dir, err)
	}
	return nil
}

func (s *mergeShard) close() {
	for _, f := range []*os.File{s.preds, s.traces} {
		if f != nil {
			f.Close()
		}
	}
	if s.lock != nil {
		syscall.Flock(int(s.lock.Fd()), syscall.LOCK_UN)
		s.lock.Close()
	}
}

// withoutShard returns a copy of config for the whole run: shard "", as a
// run without --shard has, so that deepconf run can continue a merged
// directory (to add the instances of a missing shard, say).
func withoutShard(config map[string]any) map[string]any {
	out := make(map[string]any, len(config))
	for k, v := range config {
		out[k] = v
	}
	out["shard"] = ""
	return out
}

// checkShards checks that the shards have one configuration apart from
// the shard and are distinct i/n of one n; it returns the merged
// configuration and the missing shards.
func checkShards(shards []*mergeShard) (map[string]any, []string, error) {
	first := shards[0]
	config := withoutShard(first.run.Config)
	for _, s := range shards[1:] {
		if diff := store.Diff(config, withoutShard(s.run.Config)); len(diff) > 0 {
			return nil, nil, fmt.Errorf("merge: shards %s and %s were run with different configurations:\n  %s",
				first.dir, s.dir, strings.Join(diff, "\n  "))
		}
	}
	have := map[int]string{}
	for _, s := range shards {
		if s.n != first.n {
			return nil, nil, fmt.Errorf("merge: shard %s is %s and shard %s is %s: shards must split the benchmark the same way (the same n)", first.dir, first.spec, s.dir, s.spec)
		}
		if prev, ok := have[s.i]; ok {
			return nil, nil, fmt.Errorf("merge: shards %s and %s are both %s", prev, s.dir, s.spec)
		}
		have[s.i] = s.dir
	}
	var missing []string
	for i := range first.n {
		if _, ok := have[i]; !ok {
			missing = append(missing, shardSpec(i, first.n))
		}
	}
	return config, missing, nil
}

// checkMergeOut checks that out may be written: it does not exist, is an
// empty directory, or is a previous merge (merge.json) of shards with the
// same configuration; replace reports that it exists.
func checkMergeOut(out string, config map[string]any) (replace bool, err error) {
	fi, err := os.Stat(out)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("merge: %w", err)
	}
	if !fi.IsDir() {
		return false, fmt.Errorf("merge: -o %s is a file", out)
	}
	ents, err := os.ReadDir(out)
	if err != nil {
		return false, fmt.Errorf("merge: %w", err)
	}
	if len(ents) == 0 {
		return true, nil
	}
	b, err := os.ReadFile(filepath.Join(out, mergeFile))
	if err != nil {
		return false, fmt.Errorf("merge: -o %s is not empty and holds no previous merge (%s); choose another directory", out, mergeFile)
	}
	var prev mergeInfo
	if err := json.Unmarshal(b, &prev); err != nil {
		return false, fmt.Errorf("merge: %s: %w", filepath.Join(out, mergeFile), err)
	}
	if diff := store.Diff(prev.Config, config); len(diff) > 0 {
		return false, fmt.Errorf("merge: -o %s holds a merge of shards with another configuration; choose another directory:\n  %s", out, strings.Join(diff, "\n  "))
	}
	return true, nil
}

// scanLines calls fn with each newline-terminated line of r (without the
// newline), its 1-based number, its offset and its size with the newline.
// It returns whether the file ends with a partial line (no newline), which
// fn does not see: deepconf run drops such a line when it resumes.
func scanLines(ctx context.Context, r io.Reader, fn func(line []byte, n int, off int64, size int) error) (partial bool, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var off int64
	var big []byte
	for n := 1; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return false, err
			}
		}
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			big = append(big[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				big = append(big, line...)
			}
			line = big
		}
		if err == io.EOF {
			return len(line) > 0, nil
		}
		if err != nil {
			return false, err
		}
		if err := fn(line[:len(line)-1], n, off, len(line)); err != nil {
			return false, err
		}
		off += int64(len(line))
	}
}

// lineHead is what merge reads of a prediction or trace line.
type lineHead struct {
	ID    string
	Index *int
}

// parseHead checks that line is one valid JSON object and reads its
// instance_id and index. deepconf writes them first, so the decoder stops
// after a few bytes; the validity check is one fast scan of the line.
func parseHead(line []byte) (lineHead, error) {
	var h lineHead
	if !json.Valid(line) {
		// Unmarshal says where the line goes wrong.
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return h, err
		}
		return h, fmt.Errorf("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return h, fmt.Errorf("not a JSON object")
	}
	for dec.More() && (h.ID == "" || h.Index == nil) {
		tok, err := dec.Token()
		if err != nil {
			return h, err
		}
		switch tok {
		case "instance_id":
			err = dec.Decode(&h.ID)
		case "index":
			h.Index = new(int)
			err = dec.Decode(h.Index)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return h, fmt.Errorf("field %v: %w", tok, err)
		}
	}
	return h, nil
}

// index reads where the shard's finished instances and their traces are.
// As deepconf run does when it resumes, a partial last line is ignored and
// trace lines of instances without a prediction (in flight when the run
// stopped) are skipped.
func (s *mergeShard) index(ctx context.Context, k int, log io.Writer) error {
	path := filepath.Join(s.dir, record.PredictionsFile)
	byID := map[string]*mergeEntry{}
	partial, err := scanLines(ctx, s.preds, func(line []byte, n int, off int64, size int) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		h, err := parseHead(line)
		if err != nil {
			return fmt.Errorf("merge: %s:%d: not a prediction (%v); run deepconf run on the shard again to repair it", path, n, err)
		}
		if h.ID == "" {
			return fmt.Errorf("merge: %s:%d: field instance_id is missing", path, n)
		}
		if prev, dup := byID[h.ID]; dup {
			return fmt.Errorf("merge: %s:%d: instance %s appears twice (also on line %d)", path, n, h.ID, prev.seq+1)
		}
		e := &mergeEntry{id: h.ID, shard: k, seq: len(s.entries), line: lineRef{off: off, size: size}}
		if h.Index != nil {
			e.index, e.hasIndex = *h.Index, true
		}
		byID[h.ID] = e
		s.entries = append(s.entries, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge: read %s: %w", path, err)
	}
	if partial {
		fmt.Fprintf(log, "deepconf: %s: ignoring a partial last line (the shard's run was interrupted)\n", path)
	}
	if s.traces == nil {
		return nil
	}
	path = filepath.Join(s.dir, record.TracesFile)
	skipped := 0
	partial, err = scanLines(ctx, s.traces, func(line []byte, n int, off int64, size int) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		h, err := parseHead(line)
		if err != nil {
			return fmt.Errorf("merge: %s:%d: not a trace (%v); run deepconf run on the shard again to repair it", path, n, err)
		}
		if h.ID == "" || h.Index == nil {
			return fmt.Errorf("merge: %s:%d: field instance_id or index is missing", path, n)
		}
		e := byID[h.ID]
		if e == nil {
			skipped++
			return nil
		}
		for _, t := range e.traces {
			if t.index == *h.Index {
				return fmt.Errorf("merge: %s:%d: trace %d of instance %s appears twice", path, n, t.index, h.ID)
			}
		}
		e.traces = append(e.traces, lineRef{index: *h.Index, off: off, size: size})
		s.ntraces++
		return nil
	})
	if err != nil {
		return fmt.Errorf("merge: read %s: %w", path, err)
	}
	if partial || skipped > 0 {
		fmt.Fprintf(log, "deepconf: %s: ignoring %d trace lines of unfinished instances (the shard's run was interrupted)\n", path, skipped+btoi(partial))
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// mergeOrder checks that no instance is in two shards and returns every
// instance in benchmark order. Shard i of n holds the instances at
// positions i, i + n, i + 2n, … of the benchmark, each shard's files in
// that order. When the predictions' index (the instance's data row) is
// unique and increases along every shard, as for benchmarks read from one
// file, it is the benchmark order even across instances a shard skipped;
// otherwise (benchmarks of several files, whose rows restart at 0) the
// k-th instance of shard i is at position k·n + i.
func mergeOrder(shards []*mergeShard) ([]*mergeEntry, bool, error) {
	var all []*mergeEntry
	where := map[string]*mergeEntry{}
	indexes := map[int]bool{}
	byIndex := true
	for _, s := range shards {
		last := -1
		for _, e := range s.entries {
			if prev, dup := where[e.id]; dup {
				return nil, false, fmt.Errorf("merge: instance %s is in two shards: %s (%s) and %s (%s)",
					e.id, shards[prev.shard].dir, shards[prev.shard].spec, s.dir, s.spec)
			}
			where[e.id] = e
			if !e.hasIndex || e.index <= last || indexes[e.index] {
				byIndex = false
			}
			last = e.index
			indexes[e.index] = true
			all = append(all, e)
		}
	}
	n := shards[0].n
	slices.SortFunc(all, func(a, b *mergeEntry) int {
		if byIndex {
			return cmp.Compare(a.index, b.index)
		}
		return cmp.Compare(a.seq*n+shards[a.shard].i, b.seq*n+shards[b.shard].i)
	})
	return all, byIndex, nil
}

// writeMerged writes predictions.jsonl and traces.jsonl into dir, copying
// the lines of each instance in order, and syncs them; it returns the
// number of traces.
func writeMerged(ctx context.Context, dir string, shards []*mergeShard, entries []*mergeEntry) (int, error) {
	pf, err := os.Create(filepath.Join(dir, record.PredictionsFile))
	if err != nil {
		return 0, fmt.Errorf("merge: %w", err)
	}
	defer pf.Close()
	tf, err := os.Create(filepath.Join(dir, record.TracesFile))
	if err != nil {
		return 0, fmt.Errorf("merge: %w", err)
	}
	defer tf.Close()
	pw, tw := bufio.NewWriterSize(pf, 1<<20), bufio.NewWriterSize(tf, 1<<20)
	var buf []byte
	copyLine := func(w io.Writer, s *mergeShard, f *os.File, name string, r lineRef) error {
		if cap(buf) < r.size {
			buf = make([]byte, r.size)
		}
		b := buf[:r.size]
		if _, err := f.ReadAt(b, r.off); err != nil {
			return fmt.Errorf("merge: read %s: %w", filepath.Join(s.dir, name), err)
		}
		if b[len(b)-1] != '\n' {
			return fmt.Errorf("merge: %s changed while it was merged", filepath.Join(s.dir, name))
		}
		_, err := w.Write(b)
		return err
	}
	ntraces := 0
	for k, e := range entries {
		if k%256 == 0 {
			if err := ctx.Err(); err != nil {
				return 0, err
			}
		}
		s := shards[e.shard]
		slices.SortFunc(e.traces, func(a, b lineRef) int { return cmp.Compare(a.index, b.index) })
		for _, t := range e.traces {
			if err := copyLine(tw, s, s.traces, record.TracesFile, t); err != nil {
				return 0, err
			}
		}
		ntraces += len(e.traces)
		if err := copyLine(pw, s, s.preds, record.PredictionsFile, e.line); err != nil {
			return 0, err
		}
	}
	for _, x := range []struct {
		w *bufio.Writer
		f *os.File
	}{{tw, tf}, {pw, pf}} {
		if err := x.w.Flush(); err != nil {
			return 0, fmt.Errorf("merge: write %s: %w", x.f.Name(), err)
		}
		if err := x.f.Sync(); err != nil {
			return 0, fmt.Errorf("merge: write %s: %w", x.f.Name(), err)
		}
	}
	return ntraces, nil
}

// mergedRun builds run.json and merge.json of the merge: the shards'
// configuration without the shard, the first shard's tool, engine and
// dataset, the earliest start and latest update, every session, and the
// latest finish when every shard is present and finished.
func mergedRun(shards []*mergeShard, config map[string]any, missing []string) (record.Run, mergeInfo) {
	first := shards[0].run
	run := record.Run{
		Tool: first.Tool, Version: first.Version, Config: config, Engine: first.Engine, Dataset: first.Dataset,
		RandomModel: first.RandomModel, Started: first.Started, Updated: first.Updated,
	}
	info := mergeInfo{Tool: "deepconf merge", Version: version, Merged: time.Now().UTC(), Missing: missing, Config: config}
	if info.Missing == nil {
		info.Missing = []string{}
	}
	finished := len(missing) == 0
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
		if r.Finished == nil {
			finished = false
		} else if r.Finished.After(last) {
			last = *r.Finished
		}
		abs, err := filepath.Abs(s.dir)
		if err != nil {
			abs = s.dir
		}
		info.Shards = append(info.Shards, mergeSummary{Dir: abs, Shard: s.spec, Instances: len(s.entries), Traces: s.ntraces, Finished: r.Finished != nil})
	}
	if finished {
		run.Finished = &last
	}
	return run, info
}

// writeJSONFile writes v as indented JSON to path and syncs it.
func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("merge: %s: %w", path, err)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("merge: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("merge: write %s: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory's entries to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("merge: sync %s: %w", dir, err)
	}
	return nil
}

// replaceDir moves the finished merge tmp to out. An existing out (empty,
// or a previous merge) is first moved aside and removed at the end: a
// crash in between leaves the new merge in tmp and the old one next to it,
// and the shards are untouched, so the merge can simply be run again.
func replaceDir(tmp, out string, exists bool) error {
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
	if err := syncDir(filepath.Dir(out)); err != nil {
		return err
	}
	if old != "" {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("merge: remove the previous merge %s: %w", old, err)
		}
	}
	return nil
}

// shardSpec formats shard i of n.
func shardSpec(i, n int) string { return strconv.Itoa(i) + "/" + strconv.Itoa(n) }
