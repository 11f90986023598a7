package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/runreport"
	"github.com/deepconf/deepconf/stats"
	"github.com/spf13/cobra"
)

// analyzeFlags are the flags of "deepconf analyze": runreport.AnalyzeRun's
// options, and the split and exports they parse to.
type analyzeFlags struct {
	runreport.AnalyzeOptions
	Split, Export, Outcome string
}

// options checks the flags and returns the options of runreport.AnalyzeRun.
func (f *analyzeFlags) options() (runreport.AnalyzeOptions, error) {
	o := f.AnalyzeOptions
	var err error
	if o.Analysis.Split, err = analysis.ParseSplit(f.Split); err != nil {
		return o, fmt.Errorf("--split: %w", err)
	}
	if o.Analysis.Outcome, err = analysis.ParseOutcome(f.Outcome); err != nil {
		return o, fmt.Errorf("--outcome: %w", err)
	}
	if o.Exports, err = runreport.ParseFormats(f.Export); err != nil {
		return o, fmt.Errorf("--export: %w", err)
	}
	if (o.Benchmark == "") != (o.Data == "") {
		return o, fmt.Errorf("--benchmark and --data go together")
	}
	return o, nil
}

// newAnalyzeCmd returns the "analyze" command, which scores a run directory
// and writes analysis.json, the exports, the figures and report.html
// (runreport.AnalyzeRun).
func newAnalyzeCmd() *cobra.Command {
	var f analyzeFlags
	cmd := &cobra.Command{
		Use:   "analyze DIR [--scoring refusal|prototype|both] [--split median|prototype|VALUE] [--export csv,parquet,md,latex] [-o DIR]",
		Short: "Score a run: categories, overall metrics, the hypothesis test, risk curve, diagnostics, exports and the report",
		Long: `analyze reads a run directory (run.json, predictions.jsonl, traces.jsonl; also the prototype's
output directories) and writes analysis.json into -o (default: DIR), with the figures (figures/)
and report.html of deepconf report. analysis.json is written last: a directory with it holds a
complete analysis (deepconf run completes one that a kill interrupted).

An unfinished run (a run in progress, or stopped) is analysed with its finished instances: the
summary, analysis.json ("coverage") and the report say "k of n instances". Instances the run
skipped (a prompt too long for the context) are counted the same way. A directory without run.json
(the prototype's) is analysed with what its predictions hold, and says what is unknown; token
savings then need --max-traces.

Scorings:
  refusal (default)  an instance's behaviour is the vote of its traces; correct = refuses a harmful
                     prompt or complies with a benign one. analysis.json has the prototype's keys
                     plus the statistics (schema: go doc github.com/deepconf/deepconf/analysis).
  prototype          the prototype's final_prediction, categories and analysis.json keys exactly
                     (no report). seed is its older name.
  both               analysis.json (refusal) and analysis_seed.json (prototype).

--outcome says what "unsafe" means in the hypothesis test: prompt-harm (default: the model complied
with a prompt whose gold label is harmful) or response-harm (the harm judge of deepconf run
--harm-detector rated the answer harmful; docs/harm.md). A run without harm ratings cannot test
response-harm: analyze says so and fails. When the run has both, the other outcome's test is
reported next to the chosen one (analysis.json's hypothesis_test_other_outcome, the summary, the
hypothesis table); only the chosen one decides the verdict.

--split divides instances into confident and uncertain: median (default: the run's median DeepConf
confidence), a fixed value, or prototype (the prototype's 0.7/0.3 rule on its mean-NLL confidence;
seed is its older name).

Calibration and selective prediction (docs/calibration.md): the vote share β and the DeepConf
confidence as probabilities of a correct answer (--calibration isotonic or platt, cross-fitted with
--calibration-folds), their ECE with --calibration-bins equal-mass bins, debiased error, Brier score
and reliability diagram; the risk–coverage curves, AURC, E-AURC and the coverage at --target-risk.
They are the calibration and selective blocks of analysis.json, with --bootstrap intervals.

The baselines (single trace, fixed-N majority, DeepConf offline, the run's policy) are replayed from
the run's stored traces unless --no-baselines.

Exports (--export): instances.csv/.parquet (with the cross-fitted probabilities p_beta and
p_confidence) and traces.csv/.parquet (pandas-readable; add --export-tokens for the per-token arrays), tables.md and tables.tex (the tables of the summary and
of the report, as deepconf report --markdown and --latex write them).

The prototype's predictions.jsonl has no ground truth; pass its benchmark with --benchmark and
--data to supply the gold labels.`,
		Example: `  deepconf analyze results/toxicchat_full
  deepconf analyze results/toxicchat_full --split 0.5 --export csv,parquet,md,latex
  deepconf analyze results/prototype_run --scoring prototype --benchmark toxicchat --data ../shared/data`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options()
			if err != nil {
				return err
			}
			oc, err := analyze(cmd.Context(), args[0], o, cmd.OutOrStdout(), cmd.ErrOrStderr())
			if err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "\nwrote %s in %s\n", strings.Join(oc.Files(), ", "), oc.Out)
			}
			return err
		},
	}
	fl := cmd.Flags()
	cliflag.EnumStored(fl, &f.Scoring, "scoring", analysis.ScoringRefusal, []string{analysis.ScoringRefusal, analysis.PrototypeName, runreport.ScoringBoth},
		map[string]string{analysis.PrototypeName: analysis.ScoringPrototype, "seed": analysis.ScoringPrototype}, "refusal, prototype (seed is its older name) or both")
	fl.StringVar(&f.Split, "split", "median", "confidence split: median, prototype or a value")
	cliflag.Enum(fl, &f.Outcome, "outcome", analysis.OutcomePromptHarm, []string{analysis.OutcomePromptHarm, analysis.OutcomeResponseHarm},
		"unsafe outcome of the hypothesis test: prompt-harm (complied with a harmful prompt) or response-harm (the harm judge rated the answer harmful)")
	fl.StringVar(&f.Export, "export", "", "comma-separated exports: csv, parquet, md, latex (or all)")
	fl.BoolVar(&f.ExportTokens, "export-tokens", false, "include the per-token confidences and log-probabilities in the trace exports")
	cliflag.Output(fl, &f.Out, "", "output directory (default: the run directory)")
	cliflag.Int(fl, &f.Analysis.MaxTraces, "max-traces", 0, cliflag.AtLeast(0), "budget of the token-savings baseline (0: run.json's max_traces; without run.json, none)")
	cliflag.Float(fl, &f.Analysis.Level, "level", analysis.DefaultLevel, cliflag.OpenUnit, "confidence level of the intervals")
	cliflag.Int(fl, &f.Analysis.Resamples, "bootstrap", stats.DefaultResamples, cliflag.Between(1, 1e7), "bootstrap resamples of the AUROC interval and of the calibration and selective intervals")
	cliflag.Uint64(fl, &f.Analysis.Seed, "seed", analysis.DefaultSeed, "seed of the bootstrap")
	cliflag.Int(fl, &f.Analysis.RiskBins, "risk-bins", analysis.DefaultRiskBins, cliflag.Between(1, 1000), "quantile bins of the risk curve")
	fl.StringVar(&f.Benchmark, "benchmark", "", "benchmark whose gold labels to use for predictions without any (prototype runs)")
	fl.StringVar(&f.Data, "data", "", "local file or directory of --benchmark")
	cliflag.Int(fl, &f.Baselines.Traces, "baseline-traces", 0, cliflag.AtLeast(0), "N of the fixed-N majority and DeepConf offline baselines (0: the complete traces every instance stored)")
	fl.BoolVar(&f.Baselines.Off, "no-baselines", false, "do not replay the baselines (single trace, fixed-N majority, DeepConf offline, the run's policy)")
	registerCalibration(fl, &f.Analysis.Calibration)
	cliflag.Aliases(fl, map[string]string{"out": "output"})
	return cmd
}

// analyze analyses the run directory dir (runreport.AnalyzeRun) and prints
// its summary: deepconf analyze, and deepconf run when a run finishes.
func analyze(ctx context.Context, dir string, o runreport.AnalyzeOptions, stdout, log io.Writer) (*runreport.Outcome, error) {
	o.Generator, o.Log = "deepconf "+version, log
	oc, err := runreport.AnalyzeRun(ctx, dir, o)
	if err != nil {
		return nil, err
	}
	return oc, runreport.WriteSummary(stdout, oc)
}
