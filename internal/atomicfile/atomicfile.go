// Package atomicfile replaces files so that a reader, or a crash, sees either
// the old file or the whole new one, never a partial write.
//
// It is the one way deepconf writes a file that must survive a crash: run.json,
// analysis.json, figures, reports, exports and merged runs. The file is written
// to a temporary name in the same directory, synced, renamed over the target
// (github.com/google/renameio/v2 does these steps), and then the directory is
// synced so that the rename itself is durable.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/google/renameio/v2"
)

// Perm is the permission of files written by this package.
const Perm = 0o644

// Write replaces path with what write produces. When write fails, nothing
// is replaced and the temporary file is removed.
func Write(path string, write func(io.Writer) error) error {
	// The temporary file is always next to path (renameio would use
	// $TMPDIR when it is on the same file system), so that CleanTemp finds
	// what a crash leaves.
	t, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithPermissions(Perm), renameio.WithExistingPermissions())
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer t.Cleanup()
	if err := write(t); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := t.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteFile replaces path with b.
func WriteFile(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(b))
		return err
	})
}

// SyncDir flushes a directory's entries (new, renamed or removed files) to
// stable storage.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// tempName matches the temporary names Write uses: "." + the target's name
// + a random decimal number, for the kinds of file deepconf writes.
var tempName = regexp.MustCompile(`^\..+\.(json|jsonl|html|png|svg|csv|parquet|md|tex|txt|model)[0-9]+$`)

// CleanTemp removes from dir the temporary files that a crash or a kill
// during Write left behind, and returns their names. A missing dir has
// none. It must not run while another process writes into dir.
func CleanTemp(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !tempName.MatchString(e.Name()) {
			continue
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, err
		}
		removed = append(removed, e.Name())
	}
	return removed, nil
}
