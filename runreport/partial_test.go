package runreport

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/store"
)

// TestAnalyzeUnfinishedRun: a run in progress, with skipped instances, is
// analysed with its finished instances, and the summary, analysis.json and
// the report say "k of n instances" and what was skipped.
func TestAnalyzeUnfinishedRun(t *testing.T) {
	dir := t.TempDir()
	fakeRun(t, dir, "m", 10, false, 1, true)
	run, err := store.ReadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	run.Finished, run.Instances = nil, 25
	run.Skipped = []record.Skip{{InstanceID: "toxicchat_test_11", Reason: "context overflow"}}
	b, _ := json.Marshal(run)
	writeFile(t, filepath.Join(dir, record.RunFile), b)

	oc, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Baselines: Baselines{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	var sum bytes.Buffer
	if err := WriteSummary(&sum, oc); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, record.ReportFile))
	var js struct{ Coverage analysis.Coverage }
	b, _ = os.ReadFile(filepath.Join(dir, record.AnalysisFile))
	if err := json.Unmarshal(b, &js); err != nil {
		t.Fatal(err)
	}
	c := js.Coverage
	if c.Instances != 25 || c.Analysed != 10 || c.Finished || len(c.Skipped) != 1 || len(c.Notes) != 2 {
		t.Errorf("analysis.json coverage %+v", c)
	}
	for _, want := range []string{"10 of 25 instances are analysed", "1 of 25 instances were skipped"} {
		if !strings.Contains(sum.String(), "NOTE: ") || !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
		if !strings.Contains(string(page), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if !strings.Contains(string(page), "Partial analysis") || !strings.Contains(string(page), "(10 of 25 instances)") {
		t.Error("the report is not marked partial")
	}
}

// TestReportWordsOnce: the report of a small run shows each small-sample
// warning once and no internal error text for what it could not compute.
func TestReportWordsOnce(t *testing.T) {
	dir := t.TempDir()
	fakeRun(t, dir, "m", 6, false, 3, true)
	oc, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Baselines: Baselines{Off: true}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, record.ReportFile))
	page := string(b)
	h := oc.Result.Hypothesis
	if len(h.Flags) == 0 {
		t.Fatal("the fixture has no small-sample flag")
	}
	for _, f := range h.Flags {
		if n := strings.Count(page, html.EscapeString(f)); n != 1 {
			t.Errorf("%q appears %d times in the report", f, n)
		}
	}
	for _, bad := range []string{"stats:", "Not computed:", "ErrTooFew", "need 2 each"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report shows internal error text %q", bad)
		}
	}
	if len(h.Unavailable) > 0 && !strings.Contains(page, "was not computed") {
		t.Errorf("unavailable %v not said in words", h.Unavailable)
	}
}

// TestAnalysisCompletedAfterFailure: an analysis that fails after its
// figures (here: report.html cannot be replaced) leaves no analysis.json,
// so the run counts as unanalysed; the next analysis removes the temporary
// files a kill leaves and completes every output.
func TestAnalysisCompletedAfterFailure(t *testing.T) {
	dir := t.TempDir()
	fakeRun(t, dir, "m", 12, false, 5, true)
	blocker := filepath.Join(dir, record.ReportFile)
	if err := os.MkdirAll(filepath.Join(blocker, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{}); err == nil {
		t.Fatal("no error")
	}
	if _, err := os.Stat(filepath.Join(dir, record.AnalysisFile)); err == nil {
		t.Fatal("a failed analysis wrote analysis.json")
	}
	os.RemoveAll(blocker)
	// What a kill in the middle of atomic writes leaves.
	strays := []string{filepath.Join(dir, ".analysis.json12345"), filepath.Join(dir, "figures", ".risk_curve.png987")}
	for _, s := range strays {
		writeFile(t, s, []byte("partial"))
	}
	var log bytes.Buffer
	oc, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range strays {
		if _, err := os.Stat(s); err == nil {
			t.Errorf("%s was not removed", s)
		}
	}
	for _, f := range []string{record.AnalysisFile, record.ReportFile, "figures/risk_curve.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	files := strings.Join(oc.Files(), ", ")
	if !strings.HasSuffix(files, "report.html, analysis.json") || !strings.Contains(files, "figures/ (") || strings.Count(log.String(), "removed 1 temporary files") != 2 {
		t.Errorf("files %s; log %s", files, log.String())
	}
}
