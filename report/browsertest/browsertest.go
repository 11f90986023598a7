// Package browsertest opens HTML files in headless Chromium for tests: it
// reports what the page logged (console errors and warnings, uncaught
// exceptions, browser-log errors such as Content-Security-Policy
// violations, failed loads), every request it made, and what it rendered
// (images decoded, tables with rows, boxes with a size).
//
// Chromium is Debian's package: Chromium installs it with the repository's
// scripts/chromium.sh when it is missing (CI runs as root), and skips the
// test only when that script cannot install it.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium returns the path of Debian's Chromium, running the repository's
// scripts/chromium.sh to install it when it is missing. It skips the test
// when the browser is missing and the script cannot install it.
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	root, err := moduleRoot()
	if err != nil {
		t.Skipf("Chromium is not installed and the install script cannot be found: %v", err)
	}
	script := filepath.Join(root, "scripts", "chromium.sh")
	var stderr strings.Builder
	cmd := exec.Command("bash", script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Skipf("Chromium is not installed and %s could not install it (%v): %s", script, err, lastLines(stderr.String(), 5))
	}
	return strings.TrimSpace(string(out))
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}

// Page is what a loaded page reported and rendered.
type Page struct {
	// Problems are console errors and warnings, uncaught exceptions,
	// browser-log errors and warnings, and failed loads, in order.
	Problems []string
	// Requests are the URLs the page requested, the page itself included.
	Requests []string
	// Images counts img elements; Broken names those not decoded (not
	// complete or without a natural size).
	Images int      `json:"images"`
	Broken []string `json:"broken"`
	// Tables counts table elements; EmptyTables names those without body
	// rows (by their preceding heading).
	Tables      int      `json:"tables"`
	EmptyTables []string `json:"emptyTables"`
	// Figures counts figure elements; Hidden names tables, figures and
	// images whose layout box has no area.
	Figures int      `json:"figures"`
	Hidden  []string `json:"hidden"`
	// Sections are the headings (h2) of the page's section elements.
	Sections []string `json:"sections"`
	// Screenshot is a PNG of the whole page.
	Screenshot []byte `json:"-"`
}

// External returns the requests to anything but file: and data: URLs.
func (p *Page) External() []string {
	var out []string
	for _, u := range p.Requests {
		if !strings.HasPrefix(u, "file://") && !strings.HasPrefix(u, "data:") {
			out = append(out, u)
		}
	}
	return out
}

// inspectJS reports on the rendered page.
const inspectJS = `(() => {
  const r = {images: 0, broken: [], tables: 0, emptyTables: [], figures: 0, hidden: [], sections: []};
  for (const img of document.images) {
    r.images++;
    if (!img.complete || img.naturalWidth === 0 || img.naturalHeight === 0) r.broken.push(img.alt || img.src.slice(0, 40));
  }
  for (const t of document.querySelectorAll('table')) {
    r.tables++;
    if (t.tBodies.length === 0 || t.tBodies[0].rows.length === 0) r.emptyTables.push(t.previousElementSibling ? t.previousElementSibling.textContent : '?');
  }
  for (const el of document.querySelectorAll('table, figure, img')) {
    const b = el.getBoundingClientRect();
    if (b.width === 0 || b.height === 0) r.hidden.push(el.tagName + ' ' + (el.id || el.alt || ''));
  }
  r.figures = document.querySelectorAll('figure').length;
  for (const h of document.querySelectorAll('section > h2')) r.sections.push(h.textContent);
  return r;
})()`

// recorder collects a tab's events; listen runs on the tab's read loop
// and only records.
type recorder struct {
	mu       sync.Mutex
	problems []string
	requests []string
}

func (b *recorder) listen(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		switch e.Type {
		case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeWarning, runtime.ConsoleAPICalledTypeAssert:
			var args []string
			for _, a := range e.Args {
				args = append(args, string(a.Value)+a.Description)
			}
			b.problems = append(b.problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
		}
	case *runtime.EventExceptionThrown:
		b.problems = append(b.problems, "exception: "+e.ExceptionDetails.Text)
	case *cdplog.EventEntryAdded:
		if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
			b.problems = append(b.problems, fmt.Sprintf("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL))
		}
	case *network.EventRequestWillBeSent:
		b.requests = append(b.requests, e.Request.URL)
	case *network.EventLoadingFailed:
		b.problems = append(b.problems, "loading failed: "+e.ErrorText)
	}
}

// Open loads the HTML file path in headless Chromium (the browser bin, a
// fresh profile in a temporary directory) with the flags of an offline
// test run, waits until the element matching ready exists and every image
// has finished loading, and returns what the page reported and rendered.
// ctx bounds the whole session (use a generous timeout against a hung
// browser).
func Open(ctx context.Context, bin, path, ready string) (*Page, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	profile, err := os.MkdirTemp("", "deepconf-chromium-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(profile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	var rec recorder
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(rec.listen))
	defer cancelBrowser()

	if err := chromedp.Do(bctx,
		chromedp.Navigate("file://"+abs),
		chromedp.WaitReady(chromedp.CSS(ready)),
		// Images decode asynchronously: wait until every one is done.
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[chromedp.Void](`Array.from(document.images).every(i => i.complete)`,
				chromedp.WithPollingInterval(50*time.Millisecond))(ctx, tg)
			return err
		}),
	); err != nil {
		return nil, fmt.Errorf("chromium: load %s: %w", path, err)
	}
	page, err := chromedp.Run(bctx, chromedp.Evaluate[Page](inspectJS))
	if err != nil {
		return nil, fmt.Errorf("chromium: inspect %s: %w", path, err)
	}
	if page.Screenshot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100)); err != nil {
		return nil, fmt.Errorf("chromium: screenshot %s: %w", path, err)
	}
	// Events arrive in order on the tab's connection: everything logged
	// while loading was recorded before the answers above.
	rec.mu.Lock()
	page.Problems, page.Requests = rec.problems, rec.requests
	rec.mu.Unlock()
	return &page, nil
}
