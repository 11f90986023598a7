package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/sweep"
	"github.com/spf13/cobra"
)

// analyzeHooks are the extension points of "deepconf analyze" for the steps
// that come later; nil hooks are skipped.
type analyzeHooks struct {
	// Baselines replays comparison policies from the stored traces (the
	// replay step); its results land in analysis.json's "baselines".
	Baselines analysis.BaselineFunc
	// Report writes figures and the HTML report into out after the
	// analysis files are written (package report). r is nil under
	// --scoring seed, seed nil under --scoring refusal.
	Report func(ctx context.Context, out string, d *analysis.RunData, r *analysis.Result, seed *analysis.SeedResult) error
}

// analyzeOptions are the flags of "deepconf analyze".
type analyzeOptions struct {
	Scoring      string
	Split        string
	Export       string
	ExportTokens bool
	Out          string
	MaxTraces    int
	Level        float64
	Resamples    int
	Seed         uint64
	RiskBins     int
	Benchmark    string
	Data         string
}

// defaultAnalyzeOptions are the defaults of the analyze flags, which deepconf
// run uses for the analysis of a finished run.
func defaultAnalyzeOptions() analyzeOptions {
	return analyzeOptions{
		Scoring:   analysis.ScoringRefusal,
		Split:     "median",
		Level:     analysis.DefaultLevel,
		Resamples: 2000,
		Seed:      analysis.DefaultSeed,
		RiskBins:  analysis.DefaultRiskBins,
	}
}

// newAnalyzeCmd returns the "analyze" command, which scores a run directory
// and writes analysis.json, a readable summary and the exports. Its
// baselines are replayed from the run's stored traces (package sweep).
func newAnalyzeCmd() *cobra.Command {
	var bo sweep.BaselineOptions
	var noBaselines bool
	cmd := analyzeCommand(analyzeHooks{Report: analyzeReport, Baselines: func(ctx context.Context, d *analysis.RunData) ([]analysis.Replay, error) {
		if noBaselines {
			return nil, nil
		}
		return sweep.Baselines(bo)(ctx, d)
	}})
	cmd.Flags().IntVar(&bo.Traces, "baseline-traces", 0, "N of the fixed-N majority and DeepConf offline baselines (default: the complete traces every instance stored)")
	cmd.Flags().BoolVar(&noBaselines, "no-baselines", false, "do not replay the baselines (single trace, fixed-N majority, DeepConf offline, the run's policy)")
	return cmd
}

func analyzeCommand(hooks analyzeHooks) *cobra.Command {
	var o analyzeOptions
	d := defaultAnalyzeOptions()
	cmd := &cobra.Command{
		Use:   "analyze DIR [--scoring refusal|seed|both] [--split median|seed|VALUE] [--export csv,parquet,md,latex] [--out DIR]",
		Short: "Score a run: categories, overall metrics, the hypothesis test, risk curve, diagnostics and exports",
		Long: `analyze reads a run directory (run.json, predictions.jsonl, traces.jsonl; also the prototype's
output directories) and writes analysis.json into --out (default: DIR).

Scorings:
  refusal (default)  an instance's behaviour is the vote of its traces; correct = refuses a harmful
                     prompt or complies with a benign one. analysis.json has the prototype's keys
                     plus the statistics (schema: go doc github.com/deepconf/deepconf/analysis).
  seed               the prototype's final_prediction, categories and analysis.json keys exactly.
  both               analysis.json (refusal) and analysis_seed.json (seed).

--split divides instances into confident and uncertain: median (default: the run's median DeepConf
confidence), a fixed value, or seed (the prototype's 0.7/0.3 rule on its mean-NLL confidence).

Exports (--export): instances.csv/.parquet and traces.csv/.parquet (pandas-readable; add
--export-tokens for the per-token arrays), tables.md and tables.tex.

The prototype's predictions.jsonl has no ground truth; pass its benchmark with --benchmark and
--data to supply the gold labels.`,
		Example: `  deepconf analyze results/toxicchat_full
  deepconf analyze results/toxicchat_full --split 0.5 --export csv,parquet,md,latex
  deepconf analyze results/prototype_run --scoring seed --benchmark toxicchat --data ../shared/data`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAnalyze(cmd.Context(), args[0], o, hooks, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Scoring, "scoring", d.Scoring, "refusal, seed or both")
	f.StringVar(&o.Split, "split", d.Split, "confidence split: median, seed or a value")
	f.StringVar(&o.Export, "export", "", "comma-separated exports: csv, parquet, md, latex (or all)")
	f.BoolVar(&o.ExportTokens, "export-tokens", false, "include the per-token confidences and log-probabilities in the trace exports")
	f.StringVar(&o.Out, "out", "", "output directory (default: the run directory)")
	f.IntVar(&o.MaxTraces, "max-traces", 0, "budget of the token-savings baseline (default: run.json's max_traces, else 10)")
	f.Float64Var(&o.Level, "level", d.Level, "confidence level of the intervals")
	f.IntVar(&o.Resamples, "bootstrap", d.Resamples, "bootstrap resamples of the AUROC interval")
	f.Uint64Var(&o.Seed, "seed", d.Seed, "seed of the bootstrap")
	f.IntVar(&o.RiskBins, "risk-bins", d.RiskBins, "quantile bins of the risk curve")
	f.StringVar(&o.Benchmark, "benchmark", "", "benchmark whose gold labels to use for predictions without any (prototype runs)")
	f.StringVar(&o.Data, "data", "", "local file or directory of --benchmark")
	return cmd
}

func runAnalyze(ctx context.Context, dir string, o analyzeOptions, hooks analyzeHooks, stdout, stderr io.Writer) error {
	var doRefusal, doSeed bool
	switch o.Scoring {
	case analysis.ScoringRefusal:
		doRefusal = true
	case analysis.ScoringSeed:
		doSeed = true
	case "both":
		doRefusal, doSeed = true, true
	default:
		return fmt.Errorf("--scoring %q: want refusal, seed or both", o.Scoring)
	}
	split, err := analysis.ParseSplit(o.Split)
	if err != nil {
		return fmt.Errorf("--split: %w", err)
	}
	formats, err := analysis.ParseFormats(o.Export)
	if err != nil {
		return fmt.Errorf("--export: %w", err)
	}
	if (o.Benchmark == "") != (o.Data == "") {
		return fmt.Errorf("--benchmark and --data go together")
	}
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("run directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("run directory %s: not a directory", dir)
	}
	out := o.Out
	if out == "" {
		out = dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	var labels map[string]string
	if o.Benchmark != "" {
		ins, err := benchmark.Load(ctx, o.Benchmark, benchmark.Options{Data: o.Data})
		if err != nil {
			return fmt.Errorf("gold labels: %w", err)
		}
		labels = make(map[string]string, len(ins))
		for _, in := range ins {
			labels[in.ID] = string(in.Label)
		}
	}
	d, err := analysis.Load(ctx, dir)
	if err != nil {
		return err
	}
	if len(d.Predictions) == 0 {
		return fmt.Errorf("%s: no predictions to analyse", d.PredictionsPath)
	}
	if filepath.Base(d.PredictionsPath) == analysis.CheckpointFile {
		fmt.Fprintf(stderr, "deepconf: %s has no %s; analysing the prototype's %s (an unfinished run)\n", dir, record.PredictionsFile, analysis.CheckpointFile)
	}

	var res *analysis.Result
	// The refusal analysis also scores the instances of the CSV/Parquet
	// exports under seed scoring.
	if doRefusal || len(formats) > 0 {
		res, err = analysis.Analyze(ctx, d, analysis.Options{
			Split: split, Level: o.Level, Resamples: o.Resamples, Seed: o.Seed, RiskBins: o.RiskBins,
			MaxTraces: o.MaxTraces, Labels: labels, Baselines: hooks.Baselines,
		})
		if err != nil {
			return err
		}
	}
	var seedRes *analysis.SeedResult
	if doSeed {
		seedRes, err = analysis.AnalyzeSeed(d, o.MaxTraces, labels)
		if err != nil {
			return err
		}
	}

	var written []string
	if doRefusal {
		p := filepath.Join(out, record.AnalysisFile)
		if err := analysis.WriteFileAtomic(p, res.WriteJSON); err != nil {
			return err
		}
		written = append(written, p)
	}
	if doSeed {
		name := record.AnalysisFile
		if doRefusal {
			name = analysis.SeedFile
		}
		p := filepath.Join(out, name)
		if err := analysis.WriteFileAtomic(p, seedRes.WriteJSON); err != nil {
			return err
		}
		written = append(written, p)
	}
	if len(formats) > 0 {
		var tables []analysis.Table
		if doRefusal {
			tables = append(tables, res.Tables()...)
		}
		if doSeed {
			tables = append(tables, seedRes.Tables()...)
		}
		ps, err := analysis.Export(ctx, d, res, out, analysis.ExportOptions{Formats: formats, TokenArrays: o.ExportTokens, Tables: tables})
		written = append(written, ps...)
		if err != nil {
			return err
		}
	}
	if doRefusal {
		res.Dir = dir
		if err := analysis.WriteSummary(stdout, res); err != nil {
			return err
		}
	}
	if doSeed {
		if doRefusal {
			fmt.Fprintln(stdout)
		}
		if err := analysis.WriteSeedSummary(stdout, dir, seedRes); err != nil {
			return err
		}
	}
	if hooks.Report != nil {
		var r *analysis.Result
		if doRefusal {
			r = res
		}
		if err := hooks.Report(ctx, out, d, r, seedRes); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	fmt.Fprintln(stdout)
	for _, p := range written {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return nil
}
