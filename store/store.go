// Package store reads and writes run directories (package record describes
// the files) so that a run survives crashes: every finished instance is
// appended to traces.jsonl and predictions.jsonl and synced to disk before
// the next one is written, in that order, and opening an existing directory
// repairs what a crash can leave behind. A kill -9 at any moment therefore
// loses at most the instances in flight and never corrupts or duplicates a
// finished one.
//
// The protocol: an instance is finished when its prediction line is complete
// on disk. Opening a directory drops a trailing partial line of either file
// and every trace line whose instance has no prediction (its traces were
// written, its prediction was not), then appends after the last good line.
package store

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"syscall"

	"github.com/deepconf/deepconf/record"
)

// Dir is an open run directory. It is not safe for concurrent use.
type Dir struct {
	path  string
	lock  *os.File
	preds *os.File
	trace *os.File
	done  map[string]bool
	run   record.Run
	buf   bytes.Buffer
}

// ErrConfigChanged is returned (wrapped, with the differences) when a
// directory holds a run with another configuration.
var ErrConfigChanged = errors.New("the directory holds a run with a different configuration")

// maxLine bounds one JSON line (a trace with its per-token arrays).
const maxLine = 256 << 20

// Open opens or creates the run directory path for the run described by
// run. If the directory already holds a run, its configuration must equal
// run.Config; the directory is repaired after a crash and the run continues
// (Done reports the finished instances). Only one process may have a
// directory open; a second gets an error.
func Open(path string, run record.Run) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	d := &Dir{path: path, done: map[string]bool{}}
	lock, err := os.OpenFile(filepath.Join(path, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%s is in use by another deepconf process", path)
	}
	d.lock = lock
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()

	old, err := ReadRun(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		d.run = run
	case err != nil:
		return nil, err
	default:
		if diff := Diff(old.Config, run.Config); len(diff) > 0 {
			return nil, fmt.Errorf("%s: %w; use another --output-dir, or run again with the original settings:\n  %s",
				path, ErrConfigChanged, strings.Join(diff, "\n  "))
		}
		d.run = old
		d.run.Engine, d.run.Sessions = run.Engine, append(old.Sessions, run.Sessions...)
		d.run.Finished = nil
	}
	if err := d.recover(); err != nil {
		return nil, err
	}
	if d.preds, err = os.OpenFile(filepath.Join(path, record.PredictionsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	if d.trace, err = os.OpenFile(filepath.Join(path, record.TracesFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return nil, err
	}
	if err := d.SaveRun(); err != nil {
		return nil, err
	}
	ok = true
	return d, nil
}

// Path returns the directory.
func (d *Dir) Path() string { return d.path }

// Run returns the run record (with the first session's start time when the
// run was resumed).
func (d *Dir) Run() *record.Run { return &d.run }

// Done reports whether instance id is finished.
func (d *Dir) Done(id string) bool { return d.done[id] }

// Completed is the number of finished instances.
func (d *Dir) Completed() int { return len(d.done) }

// Write appends a finished instance: its traces, then its prediction, each
// synced to disk.
func (d *Dir) Write(p record.Prediction, traces []record.Trace) error {
	if d.done[p.InstanceID] {
		return fmt.Errorf("instance %s is already in %s", p.InstanceID, d.path)
	}
	d.buf.Reset()
	for _, t := range traces {
		if err := appendJSON(&d.buf, t); err != nil {
			return fmt.Errorf("encode trace %d of %s: %w", t.Index, t.InstanceID, err)
		}
	}
	if err := writeSync(d.trace, d.buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", record.TracesFile, err)
	}
	d.buf.Reset()
	if err := appendJSON(&d.buf, p); err != nil {
		return fmt.Errorf("encode prediction of %s: %w", p.InstanceID, err)
	}
	if err := writeSync(d.preds, d.buf.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", record.PredictionsFile, err)
	}
	d.done[p.InstanceID] = true
	return nil
}

// appendJSON writes v as one JSON line.
func appendJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

func writeSync(f *os.File, b []byte) error {
	if _, err := f.Write(b); err != nil {
		return err
	}
	return f.Sync()
}

// SaveRun writes run.json atomically.
func (d *Dir) SaveRun() error {
	b, err := json.MarshalIndent(d.run, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(d.path, record.RunFile), append(b, '\n'))
}

// writeAtomic replaces path with b: a crash leaves the old or the new file.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Close releases the directory.
func (d *Dir) Close() error {
	var errs []error
	for _, f := range []*os.File{d.preds, d.trace} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	if d.lock != nil {
		syscall.Flock(int(d.lock.Fd()), syscall.LOCK_UN)
		errs = append(errs, d.lock.Close())
	}
	return errors.Join(errs...)
}

// ReadRun reads run.json of dir.
func ReadRun(dir string) (record.Run, error) {
	var r record.Run
	b, err := os.ReadFile(filepath.Join(dir, record.RunFile))
	if err != nil {
		return r, err
	}
	// Numbers stay json.Number, so that large integers (a 64-bit seed)
	// survive a read and rewrite exactly.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return r, fmt.Errorf("%s: %w", filepath.Join(dir, record.RunFile), err)
	}
	return r, nil
}

// recover repairs the files after a crash and loads the finished instances.
func (d *Dir) recover() error {
	predPath := filepath.Join(d.path, record.PredictionsFile)
	bad := 0
	goodPreds, err := scanLines(predPath, func(line []byte, n int) (bool, error) {
		if bad > 0 {
			// Only the last line can be partial: a damaged line followed
			// by good ones is not what a crash leaves.
			return false, fmt.Errorf("%s:%d: line is not a prediction, and later lines are; repair the file by hand", predPath, bad)
		}
		var p struct {
			ID string `json:"instance_id"`
		}
		if err := json.Unmarshal(line, &p); err != nil || p.ID == "" {
			bad = n
			return false, nil
		}
		if d.done[p.ID] {
			return false, fmt.Errorf("%s:%d: instance %s appears twice", predPath, n, p.ID)
		}
		d.done[p.ID] = true
		return true, nil
	})
	if err != nil {
		return err
	}
	if err := truncate(predPath, goodPreds); err != nil {
		return err
	}
	// Keep the trace lines of finished instances only.
	tracePath := filepath.Join(d.path, record.TracesFile)
	dirty := false
	good, err := scanLines(tracePath, func(line []byte, _ int) (bool, error) {
		id, ok := traceInstance(line)
		if !ok || !d.done[id] {
			dirty = true
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	if !dirty {
		return truncate(tracePath, good)
	}
	return filterLines(tracePath, func(line []byte) bool {
		id, ok := traceInstance(line)
		return ok && d.done[id]
	})
}

// traceInstance returns the instance id of a complete trace line.
func traceInstance(line []byte) (string, bool) {
	if !json.Valid(line) {
		return "", false
	}
	var t struct {
		ID string `json:"instance_id"`
	}
	if err := json.Unmarshal(line, &t); err != nil || t.ID == "" {
		return "", false
	}
	return t.ID, true
}

// scanLines calls keep for each newline-terminated line of path and returns
// the length of the longest prefix of the file made of kept lines. A missing
// file is empty; a last line without a newline is never kept.
func scanLines(path string, keep func(line []byte, n int) (bool, error)) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var off, good int64
	for n := 1; ; n++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			var big []byte
			big = append(big, line...)
			for errors.Is(err, bufio.ErrBufferFull) && len(big) < maxLine {
				line, err = r.ReadSlice('\n')
				big = append(big, line...)
			}
			line = big
		}
		if err == io.EOF {
			return good, nil // a trailing line without newline is partial
		}
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", path, err)
		}
		off += int64(len(line))
		ok, kerr := keep(bytes.TrimSuffix(line, []byte("\n")), n)
		if kerr != nil {
			return 0, kerr
		}
		if ok && good == off-int64(len(line)) {
			good = off
		}
	}
}

func truncate(path string, size int64) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil || st.Size() == size {
		return err
	}
	return os.Truncate(path, size)
}

// filterLines rewrites path keeping the complete lines for which keep is
// true.
func filterLines(path string, keep func([]byte) bool) error {
	in, err := os.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := path + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(out, 1<<20)
	r := bufio.NewReaderSize(in, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			break // drop a partial last line
		}
		if err != nil {
			out.Close()
			return err
		}
		if keep(bytes.TrimSuffix(line, []byte("\n"))) {
			w.Write(line)
		}
	}
	if err := w.Flush(); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Diff lists the differences between two configurations as "key: old → new"
// lines, sorted by key. Nested maps are compared by dotted key.
func Diff(old, new map[string]any) []string {
	var out []string
	flat := func(m map[string]any) map[string]string {
		f := map[string]string{}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			if m, ok := v.(map[string]any); ok {
				for k, x := range m {
					key := k
					if prefix != "" {
						key = prefix + "." + k
					}
					walk(key, x)
				}
				return
			}
			b, _ := json.Marshal(v)
			f[prefix] = string(b)
		}
		walk("", m)
		return f
	}
	// Round-trip through JSON so that values read from run.json (float64)
	// and fresh ones (int) compare equal.
	norm := func(m map[string]any) map[string]any {
		b, _ := json.Marshal(m)
		var x map[string]any
		json.Unmarshal(b, &x)
		return x
	}
	a, b := flat(norm(old)), flat(norm(new))
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		va, oka := a[k]
		vb, okb := b[k]
		switch {
		case !oka:
			out = append(out, fmt.Sprintf("%s: (unset) → %s", k, vb))
		case !okb:
			out = append(out, fmt.Sprintf("%s: %s → (unset)", k, va))
		case !reflect.DeepEqual(va, vb):
			out = append(out, fmt.Sprintf("%s: %s → %s", k, va, vb))
		}
	}
	return slices.Clip(out)
}
