package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/spf13/cobra"
)

// compareOptions are the flags of deepconf compare.
type compareOptions struct {
	Split string
	Out   string
	Level float64
}

// Output formats of deepconf compare, by file extension.
const (
	compareMarkdown = ".md"
	compareCSV      = ".csv"
	compareJSON     = ".json"
	compareLaTeX    = ".tex"
)

// newCompareCmd returns the "compare" command: runs side by side, grouped
// by benchmark, with McNemar's test on paired instances and
// Benjamini–Hochberg adjusted p-values.
func newCompareCmd() *cobra.Command {
	var o compareOptions
	cmd := &cobra.Command{
		Use:   "compare DIR... [--split median|seed|VALUE] [--out FILE.md|.csv|.json|.tex]",
		Short: "Compare runs side by side: metrics per benchmark, McNemar's test on paired instances, Benjamini–Hochberg",
		Long: `compare analyses each run directory (refusal scoring, as deepconf analyze) and prints, for every
benchmark, a table of its runs: model (run.json's config.model), policy, instances, accuracy with its
Wilson interval, balanced accuracy, refusal rate on harmful prompts, over-refusal on benign prompts,
unsafe-compliance rate, the hypothesis test's verdict and p-value, mean traces and tokens generated.

Every two runs of the same benchmark are paired on the instances both scored (by instance id) and
compared with McNemar's test on their correctness: the discordant counts, the exact binomial p-value
and the continuity-corrected χ² p-value. All p-values shown (hypothesis tests and McNemar tests) are
adjusted together with Benjamini–Hochberg; raw and adjusted values are both shown.

--out also writes the comparison to a file, in the format its extension names: .md (Markdown
tables), .tex (LaTeX, booktabs), .json (every number), or .csv (one row per run; the paired tests go
to FILE_pairs.csv next to it).`,
		Example: `  deepconf compare results/xstest_0.6b results/xstest_1.7b results/xstest_4b
  deepconf compare results/*_deepconf results/*_single --out comparison.md`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			return runCompare(cmd.Context(), dirs, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Split, "split", "median", "confidence split of the hypothesis test: median, seed (the prototype's 0.7/0.3 on its own metric) or a value")
	f.StringVar(&o.Out, "out", "", "also write the comparison to FILE.md, FILE.csv (and FILE_pairs.csv), FILE.json or FILE.tex")
	f.Float64Var(&o.Level, "level", analysis.DefaultLevel, "confidence level of the intervals")
	return cmd
}

// pairsCSVPath is where the paired tests of a CSV comparison go.
func pairsCSVPath(out string) string {
	return strings.TrimSuffix(out, filepath.Ext(out)) + "_pairs.csv"
}

func runCompare(ctx context.Context, dirs []string, o compareOptions, stdout, log io.Writer) error {
	split, err := analysis.ParseSplit(o.Split)
	if err != nil {
		return fmt.Errorf("--split: %w", err)
	}
	ext := strings.ToLower(filepath.Ext(o.Out))
	if o.Out != "" {
		switch ext {
		case compareMarkdown, compareCSV, compareJSON, compareLaTeX:
		default:
			return fmt.Errorf("--out %s: want a file ending in .md, .csv, .json or .tex", o.Out)
		}
	}
	seen := map[string]string{}
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if prev, ok := seen[abs]; ok {
			return fmt.Errorf("run directory %s is given twice (as %s and %s)", abs, prev, dir)
		}
		seen[abs] = dir
		if fi, err := os.Stat(dir); err != nil {
			return fmt.Errorf("run directory: %w", err)
		} else if !fi.IsDir() {
			return fmt.Errorf("run directory %s: not a directory", dir)
		}
	}

	runs := make([]analysis.CompareRun, 0, len(dirs))
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return err
		}
		d, err := analysis.Load(ctx, dir)
		if err != nil {
			return err
		}
		if len(d.Predictions) == 0 {
			return fmt.Errorf("%s: no predictions to compare", d.PredictionsPath)
		}
		res, err := analysis.Analyze(ctx, d, analysis.Options{Split: split, Level: o.Level})
		if err != nil {
			return fmt.Errorf("analyse %s: %w", dir, err)
		}
		runs = append(runs, analysis.NewCompareRun(d, res))
		fmt.Fprintf(log, "deepconf: %s: %d instances analysed\n", dir, len(d.Predictions))
	}
	c, err := analysis.Compare(runs)
	if err != nil {
		return err
	}
	tables := c.Tables()
	if err := analysis.WriteText(stdout, tables); err != nil {
		return err
	}
	if o.Out == "" {
		return nil
	}
	if dir := filepath.Dir(o.Out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	written := []string{o.Out}
	switch ext {
	case compareMarkdown:
		err = analysis.WriteFileAtomic(o.Out, func(w io.Writer) error { return analysis.WriteMarkdown(w, tables) })
	case compareLaTeX:
		err = analysis.WriteFileAtomic(o.Out, func(w io.Writer) error { return analysis.WriteLaTeX(w, tables) })
	case compareJSON:
		err = analysis.WriteFileAtomic(o.Out, c.WriteJSON)
	case compareCSV:
		pairs := pairsCSVPath(o.Out)
		err = analysis.WriteFileAtomic(o.Out, c.WriteRunsCSV)
		if err == nil {
			err = analysis.WriteFileAtomic(pairs, c.WritePairsCSV)
			written = append(written, pairs)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout)
	for _, p := range written {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return nil
}
