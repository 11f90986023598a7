package runreport

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/childbench"
	"github.com/deepconf/deepconf/record"
)

// The ToxicChat-sized benchmark (the specification: analyze ≤ 5 s and ≤ 500 MB
// resident for 5,083 instances × 10 traces × 256 tokens) runs the analysis
// in a child process (this test binary, re-executed with benchEnv set) so
// that its peak resident set (rusage ru_maxrss) excludes the generation of
// the synthetic run.
const (
	benchEnv       = "DEEPCONF_ANALYSIS_BENCH"
	benchInstances = 5083
	benchTraces    = 10
	benchTokens    = 256
)

func TestMain(m *testing.M) { childbench.Main(m, benchEnv, benchChild) }

// benchChild runs what "deepconf analyze DIR --no-baselines [--export
// FORMATS]" does, without the report: spec is DIR or DIR|FORMATS.
func benchChild(spec string) error {
	dir, formats, _ := strings.Cut(spec, "|")
	fs, err := ParseFormats(formats)
	if err != nil {
		return err
	}
	oc, err := AnalyzeRun(context.Background(), dir, AnalyzeOptions{Baselines: Baselines{Off: true}, NoReport: true, Exports: fs})
	if err != nil {
		return err
	}
	return WriteSummary(io.Discard, oc)
}

// benchRun returns a generated ToxicChat-sized run directory, creating it
// once under the temporary directory (about 0.4 GB) and reusing it later:
// 7% harmful prompts (ToxicChat's share), traces refusing with probability
// 0.6 on harmful and 0.05 on benign prompts, DeepConf token confidences
// around 14, 256 tokens and ~1,000 characters of text per trace.
func benchRun(b *testing.B) string {
	b.Helper()
	name := fmt.Sprintf("deepconf-analysis-bench-%dx%dx%d-v2", benchInstances, benchTraces, benchTokens)
	return childbench.Cached(b, name, func(dir string) error {
		return analysis.WriteSyntheticRun(dir, analysis.SyntheticRun{Instances: benchInstances, Traces: benchTraces, Tokens: benchTokens})
	})
}

// benchAnalyze runs the child process b.N times and reports its wall time,
// CPU time and peak resident set, and the size of traces.jsonl.
func benchAnalyze(b *testing.B, formats string) {
	dir := benchRun(b)
	childbench.Run(b, benchEnv, dir+"|"+formats, "analyze")
	if fi, err := os.Stat(filepath.Join(dir, record.TracesFile)); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "MB-traces.jsonl")
	}
}

// BenchmarkAnalyzeToxicChatSize is deepconf analyze --no-baselines DIR on
// the generated run, without the report.
func BenchmarkAnalyzeToxicChatSize(b *testing.B) { benchAnalyze(b, "") }

// BenchmarkAnalyzeExportToxicChatSize adds the CSV and Parquet exports of
// instances and traces (trace texts, no token arrays).
func BenchmarkAnalyzeExportToxicChatSize(b *testing.B) { benchAnalyze(b, "csv,parquet") }
