package sweep

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/childbench"
)

// The sweep benchmark (the target in BENCHMARKS.md: an 8-point sweep of a
// ToxicChat-sized run, 5,083 instances × 10 traces × 256 tokens, in
// ≤ 10 s) runs the sweep in a child process (this test binary, re-executed
// with benchEnv set) so that its peak resident set excludes the generation
// of the run.
const (
	benchEnv       = "DEEPCONF_SWEEP_BENCH"
	benchInstances = 5083
	benchTraces    = 10
	benchTokens    = 256
)

func TestMain(m *testing.M) { childbench.Main(m, benchEnv, benchChild) }

// benchConfig is the configuration recorded as the synthetic run's policy:
// DeepConf with a budget of 10 traces (what the run stored), window 32.
func benchConfig() controller.Config {
	c := controller.Default(controller.PolicyDeepConf)
	c.Budget, c.Window, c.MinTokens = benchTraces, 32, 32
	return c
}

// benchGrid is the 8-point sweep: percentile × window × warm-up.
var benchGrid = Grid{Percentile: []float64{10, 50}, Window: []int{16, 32}, Warmup: []int{2, 4}}

// benchChild does what "deepconf sweep DIR --percentile 10,50 --window
// 16,32 --warmup 2,4" does: load, replay the 8 settings, print the table.
func benchChild(dir string) error {
	ctx := context.Background()
	d, err := analysis.Load(ctx, dir)
	if err != nil {
		return err
	}
	p, err := Load(ctx, d, LoadOptions{})
	if err != nil {
		return err
	}
	settings, err := benchGrid.Settings(p.Config)
	if err != nil {
		return err
	}
	res, err := p.Sweep(ctx, settings, Options{})
	if err != nil {
		return err
	}
	if len(res) != 8 {
		return fmt.Errorf("%d results, want 8", len(res))
	}
	return WriteText(io.Discard, p, res)
}

// benchRun returns the generated run directory, creating it once under the
// temporary directory (about 0.4 GB) with analysis' generator and the trace
// seeds of benchConfig, and reusing it later.
func benchRun(b *testing.B) string {
	b.Helper()
	name := fmt.Sprintf("deepconf-sweep-bench-%dx%dx%d-v2", benchInstances, benchTraces, benchTokens)
	return childbench.Cached(b, name, func(dir string) error {
		cfg := benchConfig()
		raw, err := json.Marshal(cfg)
		if err != nil {
			return err
		}
		return analysis.WriteSyntheticRun(dir, analysis.SyntheticRun{
			Instances: benchInstances, Traces: benchTraces, Tokens: benchTokens, Policy: raw,
			TraceSeed: func(id string, k int) uint64 { return controller.TraceSeed(cfg.Sampling.Seed, id, k) },
		})
	})
}

// BenchmarkSweepToxicChatSize is the 8-point sweep of the generated run in a
// child process: wall time, CPU time and peak resident set per sweep.
func BenchmarkSweepToxicChatSize(b *testing.B) {
	childbench.Run(b, benchEnv, benchRun(b), "sweep")
}
