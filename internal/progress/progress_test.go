package progress

import (
	"bytes"
	"regexp"
	"testing"
)

// TestInstancesLog: away from a terminal, a run's report is a line when it
// starts and a line at its last instance (the interval has not passed),
// with the instances, traces and the tokens' rate.
func TestInstancesLog(t *testing.T) {
	var b bytes.Buffer
	pr := NewInstances(&b, 5, 2)
	pr.Add(3, 40)
	pr.Add(4, 60)
	if got := b.String(); got != "deepconf: 3 instances to run (2 already done)\n" {
		t.Errorf("before the last instance:\n%s", got)
	}
	pr.Add(1, 10)
	pr.Close()
	last := regexp.MustCompile(`\ndeepconf: 5/5 instances, 8 traces  [0-9.]+ tok/s  ETA 0s\n$`)
	if !last.MatchString(b.String()) {
		t.Errorf("no summary line at the last instance:\n%s", b.String())
	}
	if IsTerminal(&b) {
		t.Error("a buffer is a terminal")
	}
}

// TestFitsLog: away from a terminal, a training stage is one line.
func TestFitsLog(t *testing.T) {
	var b bytes.Buffer
	f := NewFits(&b, "cross-validation and fit")
	f.Set(1, 3)
	f.Set(3, 3)
	f.Close()
	if got := b.String(); got != "deepconf: cross-validation and fit…\n" {
		t.Errorf("log %q", got)
	}
}
