package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/record"
	"golang.org/x/sys/unix"
)

// ErrModelChanged is returned (wrapped, with the differences) when a run
// is resumed with another model or engine than the one that sampled its
// finished instances.
var ErrModelChanged = errors.New("the model or engine differs from the one that sampled the run")

// Existing is what a run directory holds before a run opens it (Inspect).
type Existing struct {
	// Run is the directory's run.json, or nil when it has none.
	Run  *record.Run
	done map[string]bool
}

// Done reports whether instance id is finished.
func (e *Existing) Done(id string) bool { return e.done[id] }

// Completed is the number of finished instances.
func (e *Existing) Completed() int { return len(e.done) }

// Inspect looks at the run directory path, without changing anything, for
// a run of configuration config. It fails where Open would: the directory
// is in use, holds a run with another configuration and finished
// instances, or cannot be created. A run calls it before it opens its
// engine, so that these failures cost nothing and write nothing.
func Inspect(ctx context.Context, path string, config record.RunConfig) (*Existing, error) {
	ex := &Existing{done: map[string]bool{}}
	fi, err := os.Stat(path)
	switch {
	case missing(err):
		return ex, creatable(path)
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, fmt.Errorf("%s is a file, not a run directory", path)
	}
	lock, err := lockDir(path, false)
	if err != nil {
		return nil, err
	}
	if lock != nil {
		defer lock.Close()
	}
	old, err := ReadRun(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ex, nil
	case err != nil:
		return nil, err
	}
	c, err := scanPredictions(ctx, path, false)
	if err != nil {
		return nil, err
	}
	for _, e := range c.entries {
		ex.done[e.id] = true
	}
	if diff := Diff(old.Config, config); len(diff) > 0 && len(ex.done) > 0 {
		return nil, configChanged(path, diff)
	}
	ex.Run = &old
	return ex, nil
}

// configChanged is the error of a resumed run whose configuration differs.
func configChanged(path string, diff []string) error {
	return fmt.Errorf("%s: %w; use another output directory, or run again with the original settings:\n  %s",
		path, ErrConfigChanged, strings.Join(diff, "\n  "))
}

// creatable reports whether the directory path can be created: its nearest
// existing ancestor is a writable directory.
func creatable(path string) error {
	dir := filepath.Clean(path)
	for {
		parent := filepath.Dir(dir)
		fi, err := os.Stat(parent)
		if err == nil {
			if !fi.IsDir() {
				return fmt.Errorf("cannot create %s: %s is a file", path, parent)
			}
			if err := unix.Access(parent, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Errorf("cannot create %s: %s is not writable", path, parent)
			}
			return nil
		}
		if !missing(err) || parent == dir {
			return fmt.Errorf("cannot create %s: %w", path, err)
		}
		dir = parent
	}
}

// missing reports a stat error of a path that does not exist (or has a file
// among its parents).
func missing(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTDIR)
}

// DiffEngine lists what differs between the engine that sampled a run
// (old) and the one resuming it, among what decides the records: the
// engine and its version, the device, the model's size and sha256 (its
// name when they are unknown, as for a server's model), the chat template,
// the reasoning markers and the first prompt as rendered. Values unknown to
// either side are not compared; threads and batch sizes are recorded per
// session instead. The lines read "key: old → new".
func DiffEngine(old, new *record.EngineInfo) []string {
	if old == nil || new == nil {
		return nil
	}
	var out []string
	cmp := func(key, a, b string) {
		if a != "" && b != "" && a != b {
			out = append(out, fmt.Sprintf("%s: %s → %s", key, quoteLong(a), quoteLong(b)))
		}
	}
	cmp("engine", old.Name, new.Name)
	cmp("engine version", old.Version, new.Version)
	cmp("device", old.Device, new.Device)
	if old.ModelBytes > 0 && new.ModelBytes > 0 && old.ModelBytes != new.ModelBytes {
		out = append(out, fmt.Sprintf("model_bytes: %d → %d", old.ModelBytes, new.ModelBytes))
	}
	cmp("model_sha256", old.ModelSHA256, new.ModelSHA256)
	if old.ModelSHA256 == "" || new.ModelSHA256 == "" {
		cmp("model", old.Model, new.Model)
	}
	cmp("chat_template", old.ChatTemplate, new.ChatTemplate)
	cmp("reasoning_delimiters", old.ReasoningDelimiters, new.ReasoningDelimiters)
	cmp("first_prompt", old.FirstPrompt, new.FirstPrompt)
	return out
}

// quoteLong shortens a long value (a rendered prompt) for a difference
// line: its first 80 bytes, quoted.
func quoteLong(s string) string {
	if len(s) > 80 {
		return fmt.Sprintf("%q…", s[:80])
	}
	return s
}
