// Package childbench runs the work of a Go benchmark in a child process —
// the test binary itself, re-executed with an environment variable set — so
// that the child's wall time, CPU time and peak resident set measure that
// work alone, not the generation of its input or the test harness. It also
// keeps a generated input directory across benchmark runs.
package childbench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Main is the body of a TestMain: when the environment variable env is set,
// the process is a child, runs child with its value and exits (1 on an
// error, printed); otherwise it runs the tests.
func Main(m *testing.M, env string, child func(spec string) error) {
	if spec := os.Getenv(env); spec != "" {
		if err := child(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Run runs the child b.N times with env set to spec and reports the mean
// wall and CPU seconds per run ("s/"+unit, "s-cpu/"+unit) and the largest
// peak resident set ("MB-peak-RSS").
func Run(b *testing.B, env, spec, unit string) {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var maxRSS int64
	var wall, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), env+"="+spec)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("child: %v\n%s", err, stderr.String())
		}
		wall += time.Since(start)
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		maxRSS = max(maxRSS, peakRSS(cmd.ProcessState))
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/"+unit)
	b.ReportMetric(cpu.Seconds()/float64(b.N), "s-cpu/"+unit)
	b.ReportMetric(float64(maxRSS)/(1<<20), "MB-peak-RSS")
}

// Cached returns the directory name under the temporary directory, creating
// it with generate the first time and reusing it afterwards (a marker file
// records that generate finished).
func Cached(b testing.TB, name string, generate func(dir string) error) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), name)
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := generate(dir); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %v", dir, time.Since(start).Round(time.Millisecond))
	return dir
}
