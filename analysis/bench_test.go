package analysis

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// The ToxicChat-sized benchmark (SPEC.md §4: analyze ≤ 5 s and ≤ 500 MB
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

func TestMain(m *testing.M) {
	if spec := os.Getenv(benchEnv); spec != "" {
		if err := benchChild(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchChild runs what "deepconf analyze DIR [--export FORMATS]" does:
// spec is DIR or DIR|FORMATS.
func benchChild(spec string) error {
	dir, formats, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	d, err := Load(ctx, dir)
	if err != nil {
		return err
	}
	r, err := Analyze(ctx, d, Options{})
	if err != nil {
		return err
	}
	if err := WriteFileAtomic(filepath.Join(dir, record.AnalysisFile), r.WriteJSON); err != nil {
		return err
	}
	if err := WriteSummary(io.Discard, r); err != nil {
		return err
	}
	if formats != "" {
		fs, err := ParseFormats(formats)
		if err != nil {
			return err
		}
		if _, err := Export(ctx, d, r, dir, ExportOptions{Formats: fs}); err != nil {
			return err
		}
	}
	return nil
}

// benchRun returns a generated ToxicChat-sized run directory, creating it
// once under the temporary directory (about 0.4 GB) and reusing it later.
func benchRun(b *testing.B) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("deepconf-analysis-bench-%dx%dx%d-v1", benchInstances, benchTraces, benchTokens))
	done := filepath.Join(dir, ".complete")
	if _, err := os.Stat(done); err == nil {
		return dir
	}
	start := time.Now()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := generateRun(dir, benchInstances, benchTraces, benchTokens); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %v", dir, time.Since(start).Round(time.Millisecond))
	return dir
}

// generateRun writes a synthetic run: 7% harmful prompts (ToxicChat's
// share), traces refusing with probability 0.6 on harmful and 0.05 on benign
// prompts, DeepConf token confidences around 14, 256 tokens and ~1,000
// characters of text per trace.
func generateRun(dir string, instances, traces, tokens int) error {
	rng := rand.New(rand.NewPCG(1, 2))
	pf, err := os.Create(filepath.Join(dir, record.PredictionsFile))
	if err != nil {
		return err
	}
	defer pf.Close()
	tf, err := os.Create(filepath.Join(dir, record.TracesFile))
	if err != nil {
		return err
	}
	defer tf.Close()
	pw, tw := bufio.NewWriterSize(pf, 1<<20), bufio.NewWriterSize(tf, 1<<20)
	penc, tenc := json.NewEncoder(pw), json.NewEncoder(tw)
	words := strings.Fields("the a model response can cannot help with that here is how to make some information about safety policy request sorry I")
	text := func() string {
		var sb strings.Builder
		for sb.Len() < 1000 {
			sb.WriteString(words[rng.IntN(len(words))])
			sb.WriteByte(' ')
		}
		return sb.String()
	}
	run := record.Run{Tool: "deepconf", Version: "bench", Config: map[string]any{"max_traces": traces, "policy": map[string]any{"policy": "deepconf"}}}
	if b, err := json.Marshal(run); err != nil {
		return err
	} else if err := os.WriteFile(filepath.Join(dir, record.RunFile), b, 0o644); err != nil {
		return err
	}
	tc := make([]float32, tokens)
	lp := make([]float32, tokens)
	for i := range instances {
		id := fmt.Sprintf("toxicchat_test_%d", i)
		harmful := rng.Float64() < 0.0712
		pRefuse := 0.05
		if harmful {
			pRefuse = 0.6
		}
		p := record.Prediction{
			InstanceID: id, Index: i, Prompt: "prompt " + id, Category: "toxic", GoldLabel: "benign", GroundTruth: "safe",
			Policy: "deepconf", Votes: map[string]float64{}, Stop: "consensus", TracesGenerated: traces,
		}
		if harmful {
			p.GoldLabel, p.GroundTruth = "harmful", "unsafe"
		}
		base := 14 + 2*rng.NormFloat64()
		refusals := 0.0
		for k := range traces {
			for j := range tokens {
				tc[j] = float32(base + rng.NormFloat64())
				lp[j] = float32(-rng.ExpFloat64() * 0.5)
			}
			st, err := confidence.Summarize(tc, confidence.StatsOptions{Window: 32, Tail: 64, BottomFraction: 0.1})
			if err != nil {
				return err
			}
			label := record.Compliance
			if rng.Float64() < pRefuse {
				label = record.Refusal
				refusals += st.LowestGroup
			}
			txt := text()
			t := record.Trace{
				InstanceID: id, Index: k, Seed: uint64(i*traces + k), Phase: record.PhaseFixed, Text: txt, Tokens: tokens,
				Finish: record.FinishLength, Used: true, Label: label, Rule: "bench", Confidence: st, SeedConfidence: 0.5,
				Counts:           confidence.Counts{Tokens: tokens, Scored: tokens, MinKEff: 20},
				TokenConfidences: tc, TokenLogprobs: lp,
			}
			if err := tenc.Encode(&t); err != nil {
				return err
			}
			p.Traces = append(p.Traces, txt)
			p.Confidences = append(p.Confidences, 0.5)
			p.Refused = append(p.Refused, label == record.Refusal)
			p.TokensPerTrace = append(p.TokensPerTrace, tokens)
			p.TraceConfidences = append(p.TraceConfidences, st.LowestGroup)
			p.Confidence += st.LowestGroup / float64(traces)
		}
		p.NumTracesUsed, p.TotalTokens, p.TokensGenerated = traces, traces*tokens, traces*tokens
		p.AvgTokensPerTrace, p.AvgConfidence = float64(tokens), 0.5
		total := p.Confidence * float64(traces)
		p.Behaviour, p.Beta = record.Compliance, (total-refusals)/total
		if refusals > total/2 {
			p.Behaviour, p.Beta = record.Refusal, refusals/total
		}
		for _, r := range p.Refused {
			if r {
				p.RefusalRate += 1 / float64(traces)
			}
		}
		p.FinalPrediction = "safe"
		p.ConfidenceCategory = SeedCategory(p.RefusalRate, p.AvgConfidence)
		if err := penc.Encode(&p); err != nil {
			return err
		}
	}
	if err := pw.Flush(); err != nil {
		return err
	}
	return tw.Flush()
}

// benchAnalyze runs the child process b.N times and reports its wall time
// and peak resident set.
func benchAnalyze(b *testing.B, formats string) {
	dir := benchRun(b)
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	var maxRSS int64
	var wall, cpu time.Duration
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), benchEnv+"="+dir+"|"+formats)
		cmd.Stderr = os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		wall += time.Since(start)
		cpu += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		maxRSS = max(maxRSS, peakRSS(cmd.ProcessState))
	}
	b.ReportMetric(wall.Seconds()/float64(b.N), "s/analyze")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "s-cpu/analyze")
	b.ReportMetric(float64(maxRSS)/(1<<20), "MB-peak-RSS")
	if fi, err := os.Stat(filepath.Join(dir, record.TracesFile)); err == nil {
		b.ReportMetric(float64(fi.Size())/(1<<20), "MB-traces.jsonl")
	}
}

// BenchmarkAnalyzeToxicChatSize is deepconf analyze DIR on the generated run.
func BenchmarkAnalyzeToxicChatSize(b *testing.B) { benchAnalyze(b, "") }

// BenchmarkAnalyzeExportToxicChatSize adds the CSV and Parquet exports of
// instances and traces (trace texts, no token arrays).
func BenchmarkAnalyzeExportToxicChatSize(b *testing.B) { benchAnalyze(b, "csv,parquet") }
