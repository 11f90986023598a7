package main

import (
	"fmt"
	"path/filepath"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/report"
	"github.com/deepconf/deepconf/runreport"
	"github.com/spf13/cobra"
)

// reportFlags are the flags of deepconf report: the report's options and
// files (runreport), and the split and figure choice they become.
type reportFlags struct {
	runreport.ReportOptions
	out     runreport.ReportOutput
	split   string
	figures bool
}

// newReportCmd returns the "report" command: figures and one
// self-contained report.html from one or more run directories.
func newReportCmd() *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report DIR... [-o report.html]",
		Short: "Write figures and a self-contained HTML report of one or more runs",
		Long: `report analyses each run directory (refusal scoring, with the baselines replayed from its stored
traces, as deepconf analyze), writes its figures as PNG and SVG into DIR/figures/, and writes one
self-contained HTML file that opens offline: the hypothesis and its result in words, the overall and
per-category tables, the hypothesis statistics, the diagnostics, every figure, the limitations and
the misclassified examples. Each run has its calibration and selective-prediction tables, its
reliability diagram and its risk–coverage figures (docs/calibration.md; --calibration,
--calibration-folds, --calibration-bins, --target-risk). With several directories it adds the model
and benchmark comparisons, McNemar's test on paired instances (Benjamini–Hochberg adjusted), each
run's ECE, Brier score, AURC and AUROC with the paired bootstrap differences, and the comparison
figures: the metrics per run and one reliability curve per run (written to figures/ next to the
report).

--markdown and --latex export the same tables (for one run, the tables.md and tables.tex of
deepconf analyze --export md,latex).`,
		Example: `  deepconf report results/toxicchat_full
  deepconf report results/toxicchat_0.6b results/toxicchat_1.7b results/toxicchat_4b -o sizes.html --latex tables.tex`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			split, err := analysis.ParseSplit(f.split)
			if err != nil {
				return fmt.Errorf("--split: %w", err)
			}
			o := f.ReportOptions
			o.Analysis.Split, o.Generator, o.Log = split, "deepconf "+version, cmd.ErrOrStderr()
			if o.MaxExamples <= 0 {
				o.MaxExamples = -1
			}
			rep, runs, err := runreport.Report(cmd.Context(), dirs, o)
			if err != nil {
				return err
			}
			ro := f.out
			if ro.HTML == "" {
				ro.HTML = runreport.DefaultReportPath(dirs)
			}
			if f.figures {
				for _, run := range runs {
					ro.FigureDirs = append(ro.FigureDirs, filepath.Join(run.Dir, "figures"))
				}
			}
			files, err := runreport.WriteReport(rep, ro)
			files.WriteText(cmd.OutOrStdout())
			return err
		},
	}
	fl := cmd.Flags()
	cliflag.Output(fl, &f.out.HTML, "", "HTML file to write (default DIR/report.html for one directory, ./report.html for several)")
	fl.StringVar(&f.split, "split", "median", "confidence split: median, prototype (the prototype's 0.7/0.3 on its own metric) or a number")
	fl.StringVar(&f.out.Markdown, "markdown", "", "also write every table as Markdown to this file")
	fl.StringVar(&f.out.LaTeX, "latex", "", "also write every table as LaTeX (booktabs) to this file")
	fl.StringVar(&f.Title, "title", "", "report title (default: derived from the runs)")
	cliflag.Int(fl, &f.MaxExamples, "max-examples", report.DefaultMaxExamples, cliflag.AtLeast(0), "misclassified examples shown per run (0: none)")
	fl.BoolVar(&f.figures, "figures", true, "write the figures as PNG and SVG into DIR/figures/")
	cliflag.Int(fl, &f.Baselines.Traces, "baseline-traces", 0, cliflag.AtLeast(0), "N of the fixed-N majority and DeepConf offline baselines (0: the complete traces every instance stored)")
	fl.BoolVar(&f.Baselines.Off, "no-baselines", false, "do not replay the baselines")
	registerCalibration(fl, &f.Analysis.Calibration)
	cliflag.Aliases(fl, map[string]string{"out": "output"})
	return cmd
}
