package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/report"
	"github.com/spf13/cobra"
)

// reportOptions configure buildReport.
type reportOptions struct {
	// Analysis configures the analysis of every run (split, level …).
	Analysis analysis.Options
	// Title of the report; "" derives one from the runs.
	Title string
	// MaxExamples caps the misclassified examples per run (report's rule).
	MaxExamples int
	// Log receives progress lines.
	Log io.Writer
}

// reportFlags are the flags of deepconf report.
type reportFlags struct {
	out, markdown, latex, split, title string
	maxExamples                        int
	figures                            bool
}

// newReportCmd returns the "report" command: figures and one
// self-contained report.html from one or more run directories.
func newReportCmd() *cobra.Command {
	var f reportFlags
	cmd := &cobra.Command{
		Use:   "report DIR... [-o report.html]",
		Short: "Write figures and a self-contained HTML report of one or more runs",
		Long: `report analyses each run directory (refusal scoring, as deepconf analyze), writes its figures
as PNG and SVG into DIR/figures/, and writes one self-contained HTML file that opens offline: the
hypothesis and its result in words, the overall and per-category tables, the hypothesis statistics,
the diagnostics, every figure, the limitations and the misclassified examples. With several
directories it adds the model and benchmark comparisons, McNemar's test on paired instances
(Benjamini–Hochberg adjusted) and a comparison figure (written to figures/ next to the report).

--markdown and --latex export the same tables.`,
		Example: `  deepconf report results/toxicchat_full
  deepconf report results/toxicchat_0.6b results/toxicchat_1.7b results/toxicchat_4b -o sizes.html --latex tables.tex`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			split, err := analysis.ParseSplit(f.split)
			if err != nil {
				return fmt.Errorf("--split: %w", err)
			}
			out := f.out
			if out == "" {
				out = "report.html"
				if len(dirs) == 1 {
					out = filepath.Join(dirs[0], "report.html")
				}
			}
			o := reportOptions{
				Analysis:    analysis.Options{Split: split},
				Title:       f.title,
				MaxExamples: f.maxExamples,
				Log:         cmd.ErrOrStderr(),
			}
			return writeReport(cmd.Context(), cmd.OutOrStdout(), dirs, out, f, o)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "HTML file to write (default DIR/report.html for one directory, ./report.html for several)")
	fl.StringVar(&f.split, "split", "median", "confidence split: median, seed (the prototype's 0.7/0.3 on its own metric) or a number")
	fl.StringVar(&f.markdown, "markdown", "", "also write every table as Markdown to this file")
	fl.StringVar(&f.latex, "latex", "", "also write every table as LaTeX (booktabs) to this file")
	fl.StringVar(&f.title, "title", "", "report title (default: derived from the runs)")
	fl.IntVar(&f.maxExamples, "max-examples", report.DefaultMaxExamples, "misclassified examples shown per run (0: none)")
	fl.BoolVar(&f.figures, "figures", true, "write the figures as PNG and SVG into DIR/figures/")
	return cmd
}

// writeReport builds the report of dirs and writes the figures, the HTML
// file and the requested exports, listing what it wrote on stdout.
func writeReport(ctx context.Context, stdout io.Writer, dirs []string, out string, f reportFlags, o reportOptions) error {
	if f.maxExamples <= 0 {
		o.MaxExamples = -1
	}
	rep, runs, err := buildReport(ctx, dirs, o)
	if err != nil {
		return err
	}
	var figDirs []string
	if f.figures {
		for _, run := range runs {
			figDirs = append(figDirs, filepath.Join(run.Dir, "figures"))
		}
	}
	if err := writeReportFiles(stdout, rep, figDirs, out); err != nil {
		return err
	}
	for _, ex := range []struct {
		path  string
		write func(io.Writer) error
	}{{f.markdown, rep.WriteMarkdown}, {f.latex, rep.WriteLaTeX}} {
		if ex.path == "" {
			continue
		}
		if err := writeFile(ex.path, ex.write); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", ex.path)
	}
	return nil
}

// writeReportFiles writes each run's figures into figDirs[i] (none when
// figDirs is empty), the comparison figures into figures/ next to out, and
// the HTML file out.
func writeReportFiles(stdout io.Writer, rep *report.Report, figDirs []string, out string) error {
	if dir := filepath.Dir(out); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if len(figDirs) > 0 {
		for i, dir := range figDirs {
			paths, err := report.WriteFigures(dir, rep.Runs[i].Figures)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %d figure files to %s\n", len(paths), dir)
		}
		if len(rep.ComparisonFigures) > 0 {
			dir := filepath.Join(filepath.Dir(out), "figures")
			paths, err := report.WriteFigures(dir, rep.ComparisonFigures)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %d figure files to %s\n", len(paths), dir)
		}
	}
	if err := rep.WriteHTMLFile(out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", out)
	return nil
}

// analyzeReport is the report step of deepconf analyze (its
// analyzeHooks.Report): for the refusal-scoring result r of the run d it
// writes the figures into out/figures and out/report.html. The prototype's
// seed scoring alone (r nil) has no report. Trace texts, which the analysis
// skips, are read for the misclassified examples shown.
func analyzeReport(ctx context.Context, out string, d *analysis.RunData, r *analysis.Result, _ *analysis.SeedResult) error {
	if r == nil {
		return nil
	}
	rep, err := assembleReport(ctx, []reportRun{newReportRun(d.Dir, d, r)}, reportOptions{MaxExamples: report.DefaultMaxExamples})
	if err != nil {
		return err
	}
	return writeReportFiles(io.Discard, rep, []string{filepath.Join(out, "figures")}, filepath.Join(out, "report.html"))
}

// writeFile writes path with write, through a temporary file.
func writeFile(path string, write func(io.Writer) error) error {
	return analysis.WriteFileAtomic(path, write)
}
