package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "new" {
		t.Fatalf("read %q, %v; want new", b, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != Perm {
		t.Errorf("mode %v, want %v", fi.Mode().Perm(), os.FileMode(Perm))
	}
}

func TestWriteFailureKeepsOldAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.json")
	if err := WriteFile(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(path, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "old" {
		t.Errorf("file %q after a failed write, want old", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("%d entries after a failed write, want 1 (no temporary file left)", len(ents))
	}
}

// TestCleanTemp: the temporary file of an interrupted Write is next to its
// target and CleanTemp removes it, and nothing else.
func TestCleanTemp(t *testing.T) {
	dir := t.TempDir()
	stop := errors.New("killed")
	// A Write that fails cleans up after itself; simulate a kill by
	// copying the temporary file while it exists.
	var stray string
	err := Write(filepath.Join(dir, "report.html"), func(w io.Writer) error {
		f := w.(interface{ Name() string })
		stray = f.Name()
		b, _ := os.ReadFile(stray)
		return errors.Join(os.WriteFile(stray+".copy", b, 0o644), stop)
	})
	if !errors.Is(err, stop) || filepath.Dir(stray) != dir {
		t.Fatalf("err %v, temporary file %s", err, stray)
	}
	os.Rename(stray+".copy", stray)
	keep := []string{".lock", "run.json", ".hidden", "figures.png", ".bashrc2"}
	for _, k := range keep {
		os.WriteFile(filepath.Join(dir, k), nil, 0o644)
	}
	os.WriteFile(filepath.Join(dir, ".calibration.svg8812"), nil, 0o644)
	removed, err := CleanTemp(dir)
	if err != nil || len(removed) != 2 {
		t.Fatalf("removed %v, %v", removed, err)
	}
	for _, k := range keep {
		if _, err := os.Stat(filepath.Join(dir, k)); err != nil {
			t.Errorf("%s was removed", k)
		}
	}
	if r, err := CleanTemp(filepath.Join(dir, "missing")); r != nil || err != nil {
		t.Errorf("missing dir: %v %v", r, err)
	}
}
