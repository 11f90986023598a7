package report

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/report/browsertest"
)

// TestChromium opens a report in headless Chromium and checks that it loads
// without console errors or requests beyond the file, and that every figure
// and table is rendered. A control page that breaks the report's
// Content-Security-Policy checks that such errors are caught at all.
func TestChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a browser")
	}
	bin := browsertest.Chromium(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "report.html")
	if err := sampleReport(t).WriteHTMLFile(path); err != nil {
		t.Fatal(err)
	}
	// A generous bound on a hung browser; nothing is timed.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := browsertest.Open(ctx, bin, path, "footer")
	if err != nil {
		t.Fatal(err)
	}
	if d := os.Getenv("DEEPCONF_SCREENSHOT"); d != "" {
		os.WriteFile(d, p.Screenshot, 0o644)
	}
	for _, pr := range p.Problems {
		t.Errorf("browser reported: %s", pr)
	}
	for _, u := range p.External() {
		t.Errorf("the report requested %s", u)
	}
	// Nine figures of the first run (three of them the calibration
	// figures: reliability diagram, risk–coverage of errors and of unsafe
	// compliance) and two comparison figures (metrics, reliability by
	// model), as in sampleReport.
	if p.Images != 11 || p.Figures != 11 || len(p.Broken) > 0 {
		t.Errorf("images %d, figures %d, broken %v; want 11 rendered", p.Images, p.Figures, p.Broken)
	}
	if p.Tables != 4 || len(p.EmptyTables) > 0 {
		t.Errorf("tables %d, empty %v; want 4 with rows", p.Tables, p.EmptyTables)
	}
	if len(p.Hidden) > 0 {
		t.Errorf("elements without a rendered box: %v", p.Hidden)
	}
	want := []string{"test:tiny on toxicchat", "Qwen/Qwen3-1.7B on toxicchat", "Comparisons across runs", "Limitations"}
	if strings.Join(p.Sections, "|") != strings.Join(want, "|") {
		t.Errorf("sections %q, want %q", p.Sections, want)
	}
	if len(p.Screenshot) == 0 {
		t.Error("no screenshot")
	}

	control := filepath.Join(dir, "control.html")
	if err := os.WriteFile(control, []byte(`<!DOCTYPE html><html><head><meta charset="utf-8">`+
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">`+
		`<title>control</title></head><body><img src="http://127.0.0.1:9/x.png" alt="x"><footer>end</footer></body></html>`), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = browsertest.Open(ctx, bin, control, "footer")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pr := range p.Problems {
		found = found || strings.Contains(pr, "Content Security Policy")
	}
	if !found || len(p.Broken) != 1 {
		t.Errorf("control page: problems %q, broken %v; want the CSP violation and one broken image", p.Problems, p.Broken)
	}
}
