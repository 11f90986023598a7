package shareddata

import (
	"path/filepath"
	"testing"
)

func TestDirFindsManifest(t *testing.T) {
	d := Dir(t)
	if !filepath.IsAbs(d) || filepath.Base(d) != "data" {
		t.Errorf("Dir = %q, want an absolute path ending in shared/data", d)
	}
	Path(t, "MANIFEST.md")
}
