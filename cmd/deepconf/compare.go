package main

import (
	"fmt"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/runreport"
	"github.com/deepconf/deepconf/table"
	"github.com/spf13/cobra"
)

// newCompareCmd returns the "compare" command: runs side by side, with
// McNemar's test on paired instances and Benjamini–Hochberg adjusted
// p-values (runreport.Compare).
func newCompareCmd() *cobra.Command {
	var (
		split, out string
		level      float64
		cal        analysis.CalibrationOptions
	)
	cmd := &cobra.Command{
		Use:   "compare DIR... [--split median|prototype|VALUE] [-o FILE.md|.csv|.json|.tex]",
		Short: "Compare runs side by side: metrics per benchmark, McNemar's test on paired instances, Benjamini–Hochberg",
		Long: `compare analyses each run directory (refusal scoring, as deepconf analyze) and prints the comparison
tables of deepconf report: every run (benchmark, model from run.json's config.model, policy, scored
instances, accuracy with its Wilson interval, balanced accuracy, refusal rate on harmful prompts,
over-refusal on benign prompts, unsafe-compliance rate, F1, mean traces, tokens generated, the
hypothesis test's verdict and p-value), the accuracy of each model on each benchmark, and the paired
tests.

Every two runs of the same benchmark are paired on the instances both scored (by instance id) and
compared with McNemar's test on their correctness: the discordant counts, the exact binomial p-value
and the continuity-corrected χ² p-value. All p-values shown (hypothesis tests and McNemar tests) are
adjusted together with Benjamini–Hochberg; raw and adjusted values are both shown.

Calibration and selective prediction (docs/calibration.md): each run's ECE, debiased error and Brier
score of the vote share β (as it is) and of the DeepConf confidence (mapped with --calibration), and
the AURC, E-AURC and AUROC of both scores for errors, with bootstrap intervals; for every two runs of a
benchmark, the differences of ECE, Brier score, AURC and AUROC on their shared instances with paired
bootstrap intervals and p-values, Benjamini–Hochberg adjusted as a family of their own.

-o also writes the comparison to a file, in the format its extension names: .md (Markdown
tables), .tex (LaTeX, booktabs), .json (every number), or .csv (one row per run, with the calibration
measures; the paired tests go to FILE_pairs.csv and the calibration differences to
FILE_calibration_pairs.csv next to it).`,
		Example: `  deepconf compare results/xstest_0.6b results/xstest_1.7b results/xstest_4b
  deepconf compare results/*_deepconf results/*_single -o comparison.md`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			sp, err := analysis.ParseSplit(split)
			if err != nil {
				return fmt.Errorf("--split: %w", err)
			}
			if out != "" {
				if err := runreport.CheckComparisonPath(out); err != nil {
					return fmt.Errorf("--output %w", err)
				}
			}
			c, err := runreport.Compare(cmd.Context(), dirs, runreport.CompareOptions{
				Analysis: analysis.Options{Split: sp, Level: level, Calibration: cal}, Log: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			stdout := cmd.OutOrStdout()
			if err := table.WriteText(stdout, runreport.CompareTables(c)); err != nil {
				return err
			}
			if out == "" {
				return nil
			}
			written, err := runreport.WriteComparison(out, c)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout)
			for _, p := range written {
				fmt.Fprintf(stdout, "wrote %s\n", p)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&split, "split", "median", "confidence split of the hypothesis test: median, prototype (the prototype's 0.7/0.3 on its own metric) or a value")
	cliflag.Output(f, &out, "", "also write the comparison to FILE.md, FILE.csv (and FILE_pairs.csv), FILE.json or FILE.tex")
	cliflag.Float(f, &level, "level", analysis.DefaultLevel, cliflag.OpenUnit, "confidence level of the intervals")
	cliflag.Aliases(f, map[string]string{"out": "output"})
	registerCalibration(f, &cal)
	return cmd
}
