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

// reportFlags are the flags of deepconf report.
type reportFlags struct {
	out, markdown, latex, split, title string
	maxExamples, baselineTraces        int
	figures, noBaselines               bool
	calibration                        calibrationFlags
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
			cal, err := f.calibration.options()
			if err != nil {
				return err
			}
			out := f.out
			if out == "" {
				out = "report.html"
				if len(dirs) == 1 {
					out = filepath.Join(dirs[0], "report.html")
				}
			}
			o := runreport.ReportOptions{
				Analysis:    analysis.Options{Split: split, Calibration: cal},
				Baselines:   runreport.Baselines{Off: f.noBaselines, Traces: f.baselineTraces},
				Title:       f.title,
				MaxExamples: f.maxExamples,
				Generator:   "deepconf " + version,
				Log:         cmd.ErrOrStderr(),
			}
			if f.maxExamples <= 0 {
				o.MaxExamples = -1
			}
			rep, runs, err := runreport.Report(cmd.Context(), dirs, o)
			if err != nil {
				return err
			}
			ro := runreport.ReportOutput{HTML: out, Markdown: f.markdown, LaTeX: f.latex}
			if f.figures {
				for _, run := range runs {
					ro.FigureDirs = append(ro.FigureDirs, filepath.Join(run.Dir, "figures"))
				}
			}
			files, err := runreport.WriteReport(rep, ro)
			stdout := cmd.OutOrStdout()
			for i, dir := range files.FigureDirs {
				fmt.Fprintf(stdout, "wrote %d figure files to %s\n", files.Figures[i], dir)
			}
			if files.HTML != "" {
				fmt.Fprintf(stdout, "wrote %s\n", files.HTML)
			}
			for _, p := range files.Tables {
				fmt.Fprintf(stdout, "wrote %s\n", p)
			}
			return err
		},
	}
	fl := cmd.Flags()
	cliflag.Output(fl, &f.out, "", "HTML file to write (default DIR/report.html for one directory, ./report.html for several)")
	fl.StringVar(&f.split, "split", "median", "confidence split: median, seed (the prototype's 0.7/0.3 on its own metric) or a number")
	fl.StringVar(&f.markdown, "markdown", "", "also write every table as Markdown to this file")
	fl.StringVar(&f.latex, "latex", "", "also write every table as LaTeX (booktabs) to this file")
	fl.StringVar(&f.title, "title", "", "report title (default: derived from the runs)")
	cliflag.Int(fl, &f.maxExamples, "max-examples", report.DefaultMaxExamples, cliflag.AtLeast(0), "misclassified examples shown per run (0: none)")
	fl.BoolVar(&f.figures, "figures", true, "write the figures as PNG and SVG into DIR/figures/")
	cliflag.Int(fl, &f.baselineTraces, "baseline-traces", 0, cliflag.AtLeast(0), "N of the fixed-N majority and DeepConf offline baselines (0: the complete traces every instance stored)")
	fl.BoolVar(&f.noBaselines, "no-baselines", false, "do not replay the baselines")
	f.calibration.register(fl)
	cliflag.Aliases(fl, map[string]string{"out": "output"})
	return cmd
}
