package childbench

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCached(t *testing.T) {
	name := filepath.Base(t.TempDir()) + "-childbench"
	t.Cleanup(func() { os.RemoveAll(filepath.Join(os.TempDir(), name)) })
	calls := 0
	gen := func(dir string) error {
		calls++
		return os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644)
	}
	a, b := Cached(t, name, gen), Cached(t, name, gen)
	if a != b || calls != 1 {
		t.Errorf("dirs %s and %s, %d generations; want one directory generated once", a, b, calls)
	}
	if _, err := os.Stat(filepath.Join(a, "data")); err != nil {
		t.Error(err)
	}
}
