// Package store owns the run directory (package record describes its
// files): it writes a run so that it survives crashes, repairs a directory
// after one, reads a run for the analysis, and merges the shards of a run.
// It is the one package that parses run.json, traces.jsonl and
// predictions.jsonl.
//
// Writing: every finished instance is appended to traces.jsonl and
// predictions.jsonl and synced to disk before the next one is written, in
// that order, and opening an existing directory repairs what a crash can
// leave behind. A kill -9 at any moment therefore loses at most the
// instances in flight and never corrupts or duplicates a finished one.
//
// The protocol: an instance is finished when its prediction line is complete
// on disk. Opening a directory drops a trailing partial line of either file
// (see lineReader for the one rule of what is partial) and every trace line
// whose instance has no prediction (its traces were written, its prediction
// was not), then appends after the last good line. Readers and Merge apply
// the same rules without changing the files.
package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/record"
	"github.com/gofrs/flock"
)

// Dir is an open run directory. It is not safe for concurrent use.
type Dir struct {
	path  string
	lock  *flock.Flock
	preds *os.File
	trace *os.File
	done  map[string]bool
	run   record.Run
	buf   bytes.Buffer
	// replaced: Open took over an unstarted run of another configuration.
	replaced bool
}

// ErrConfigChanged is returned (wrapped, with the differences) when a
// directory holds a run with another configuration.
var ErrConfigChanged = errors.New("the directory holds a run with a different configuration")

// ErrInUse is returned (wrapped) when another process holds the run
// directory: a run writing it, or a merge reading it.
var ErrInUse = errors.New("in use by another deepconf process")

// lockFile is the file that processes lock to share a run directory: a run
// locks it exclusively, a merge that reads the directory shares it.
const lockFile = ".lock"

// lockDir locks the run directory dir without waiting: exclusively, which
// creates the lock file, or shared, for which a directory without a lock
// file has never been run and needs no lock (nil, nil). A lock held by
// another process is ErrInUse.
func lockDir(dir string, exclusive bool) (*flock.Flock, error) {
	path := filepath.Join(dir, lockFile)
	var (
		l   *flock.Flock
		ok  bool
		err error
	)
	if exclusive {
		l = flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o644))
		ok, err = l.TryLock()
	} else {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			return nil, nil
		}
		l = flock.New(path, flock.SetFlag(os.O_RDONLY))
		ok, err = l.TryRLock()
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	case !ok:
		return nil, fmt.Errorf("%s is %w", dir, ErrInUse)
	}
	return l, nil
}

// Open opens or creates the run directory path for the run described by
// run. If the directory already holds a run with finished instances, its
// configuration must equal run.Config and the engine that sampled it
// (run.json's engine) must match run.Engine (DiffEngine); the directory is
// repaired after a crash and the run continues (Done reports the finished
// instances) with the earlier run's record, its sessions followed by run's,
// and run's engine. A directory whose run, of another configuration,
// finished no instance is taken over by run (Replaced). Only one process may have a directory open; a
// second gets an error wrapping ErrInUse. A refused Open writes nothing.
func Open(path string, run record.Run) (*Dir, error) {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, err
	}
	d := &Dir{path: path, done: map[string]bool{}}
	lock, err := lockDir(path, true)
	if err != nil {
		return nil, err
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
		c, err := scanPredictions(context.Background(), path, false)
		if err != nil {
			return nil, err
		}
		if diff := Diff(old.Config, run.Config); len(diff) > 0 {
			if len(c.entries) > 0 {
				return nil, configChanged(path, diff)
			}
			// Nothing finished: nothing to keep from the old run.
			d.run, d.replaced = run, true
			break
		}
		if diff := DiffEngine(old.Engine, run.Engine); len(diff) > 0 && len(c.entries) > 0 {
			return nil, fmt.Errorf("%s: %w; use another output directory, or resume with the original model and engine:\n  %s",
				path, ErrModelChanged, strings.Join(diff, "\n  "))
		}
		d.run = old
		if run.Engine != nil {
			d.run.Engine = run.Engine
		}
		d.run.Instances = run.Instances
		d.run.Sessions = append(old.Sessions, run.Sessions...)
		d.run.Finished, d.run.Skipped, d.run.SkippedAccepted = nil, nil, false
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

// Replaced reports that Open took over a directory whose run, of another
// configuration, had finished no instance.
func (d *Dir) Replaced() bool { return d.replaced }

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
	return writeJSON(filepath.Join(d.path, record.RunFile), d.run)
}

// writeJSON replaces path with v as indented JSON: a crash leaves the old
// or the new file.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
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
		errs = append(errs, d.lock.Close())
	}
	return errors.Join(errs...)
}

// recover repairs the files after a crash and loads the finished instances.
func (d *Dir) recover() error {
	c, err := scanContents(context.Background(), d.path, false)
	if err != nil {
		return err
	}
	for _, e := range c.entries {
		d.done[e.id] = true
	}
	if err := truncate(filepath.Join(d.path, record.PredictionsFile), c.predsEnd, c.predsOpen); err != nil {
		return err
	}
	tracePath := filepath.Join(d.path, record.TracesFile)
	if c.tracesClean {
		open := len(c.keep) > 0 && !c.keep[len(c.keep)-1].terminated
		return truncate(tracePath, c.tracesEnd, open)
	}
	// Keep the trace lines of finished instances only.
	in, err := os.Open(tracePath)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.Write(tracePath, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var buf []byte
		for _, r := range c.keep {
			b, err := readLine(in, r, &buf)
			if err != nil {
				return err
			}
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
}

// readLine reads the line at r of f into *buf, with a newline added to a
// last line that has none.
func readLine(f *os.File, r lineRef, buf *[]byte) ([]byte, error) {
	if cap(*buf) < r.size+1 {
		*buf = make([]byte, r.size+1)
	}
	b := (*buf)[:r.size]
	if _, err := f.ReadAt(b, r.off); err != nil {
		return nil, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	if !r.terminated {
		return append(b, '\n'), nil
	}
	if b[len(b)-1] != '\n' {
		return nil, fmt.Errorf("%s changed while it was read", f.Name())
	}
	return b, nil
}

// truncate cuts path to size and, when its last line lacks a newline
// (open), ends it with one, so that the next line is appended after it.
func truncate(path string, size int64, open bool) error {
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Size() != size {
		if err := os.Truncate(path, size); err != nil {
			return err
		}
	}
	if !open {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	err = writeSync(f, []byte("\n"))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
