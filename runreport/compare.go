package runreport

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/table"
)

// CompareOptions configure Compare.
type CompareOptions struct {
	// Analysis configures the analysis of every run (split, level …); no
	// baselines are replayed.
	Analysis analysis.Options
	// Log receives a progress line per run analysed (nil: none).
	Log io.Writer
}

// Compare analyses every run directory with refusal scoring and compares
// them (analysis.Compare): per-run metrics and McNemar's test on the
// instances shared by runs of a benchmark. A directory given twice is an
// error. CompareTables shows the comparison; WriteComparison writes it.
func Compare(ctx context.Context, dirs []string, o CompareOptions) (*analysis.Comparison, error) {
	seen := map[string]string{}
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, err
		}
		if prev, ok := seen[abs]; ok {
			return nil, fmt.Errorf("run directory %s is given twice (as %s and %s)", abs, prev, dir)
		}
		seen[abs] = dir
		if fi, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("run directory: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("run directory %s: not a directory", dir)
		}
	}
	runs := make([]analysis.CompareRun, 0, len(dirs))
	for _, dir := range dirs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d, err := analysis.Load(ctx, dir)
		if err != nil {
			return nil, err
		}
		if len(d.Predictions) == 0 {
			return nil, fmt.Errorf("%s: no predictions to compare", d.PredictionsPath)
		}
		res, err := analysis.Analyze(ctx, d, o.Analysis)
		if err != nil {
			return nil, fmt.Errorf("analyse %s: %w", dir, err)
		}
		runs = append(runs, analysis.NewCompareRun(d, res))
		if o.Log != nil {
			fmt.Fprintf(o.Log, "deepconf: %s: %d instances analysed\n", dir, len(d.Predictions))
		}
	}
	return analysis.Compare(runs)
}

// Comparison file formats, by extension.
const (
	CompareMarkdown = ".md"
	CompareLaTeX    = ".tex"
	CompareJSON     = ".json"
	CompareCSV      = ".csv"
)

// CheckComparisonPath checks that path names a comparison file format
// WriteComparison writes.
func CheckComparisonPath(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case CompareMarkdown, CompareLaTeX, CompareJSON, CompareCSV:
		return nil
	}
	return fmt.Errorf("%s: want a file ending in %s, %s, %s or %s", path, CompareMarkdown, CompareCSV, CompareJSON, CompareLaTeX)
}

// PairsCSVPath is where WriteComparison writes the paired tests of a CSV
// comparison: FILE_pairs.csv next to FILE.csv.
func PairsCSVPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + "_pairs.csv"
}

// CalibrationPairsCSVPath is where WriteComparison writes the calibration
// differences of a CSV comparison: FILE_calibration_pairs.csv next to
// FILE.csv.
func CalibrationPairsCSVPath(path string) string {
	return strings.TrimSuffix(path, filepath.Ext(path)) + "_calibration_pairs.csv"
}

// WriteComparison writes c to path in the format its extension names: .md
// (CompareTables as Markdown), .tex (as LaTeX), .json (every number), or
// .csv (one row per run; the paired tests go to PairsCSVPath and, when the
// runs have calibration blocks, the calibration differences to
// CalibrationPairsCSVPath). It creates path's directory and returns the
// files written.
func WriteComparison(path string, c *analysis.Comparison) ([]string, error) {
	if err := CheckComparisonPath(path); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	var err error
	written := []string{path}
	switch strings.ToLower(filepath.Ext(path)) {
	case CompareMarkdown:
		err = atomicfile.Write(path, func(w io.Writer) error { return table.WriteMarkdown(w, CompareTables(c)) })
	case CompareLaTeX:
		err = atomicfile.Write(path, func(w io.Writer) error { return table.WriteLaTeX(w, CompareTables(c)) })
	case CompareJSON:
		err = atomicfile.Write(path, c.WriteJSON)
	case CompareCSV:
		pairs := PairsCSVPath(path)
		err = atomicfile.Write(path, func(w io.Writer) error { return WriteRunsCSV(w, c) })
		if err == nil {
			err = atomicfile.Write(pairs, func(w io.Writer) error { return WritePairsCSV(w, c) })
			written = append(written, pairs)
		}
		if err == nil && c.Calibration != nil {
			cal := CalibrationPairsCSVPath(path)
			err = atomicfile.Write(cal, func(w io.Writer) error { return WriteCalibrationPairsCSV(w, c) })
			written = append(written, cal)
		}
	}
	if err != nil {
		return nil, err
	}
	return written, nil
}

// WriteRunsCSV writes one row per run of c (pandas-readable: rates as
// fractions, NaN for undefined values), ending with calibrationRunColumns.
func WriteRunsCSV(w io.Writer, c *analysis.Comparison) error {
	header := []string{"benchmark", "label", "model", "policy", "dir", "random_model", "instances", "scored",
		"accuracy", "accuracy_lo", "accuracy_hi", "balanced_accuracy", "refusal_rate_harmful", "over_refusal_benign",
		"unsafe_compliance_rate", "f1", "hypothesis_verdict", "hypothesis_p", "hypothesis_p_bh",
		"avg_traces", "avg_traces_generated", "tokens_generated"}
	header = append(header, calibrationRunHeader()...)
	f := table.CSVFloat[analysis.Float]
	return writeCSV(w, header, len(c.Runs), func(i int) []string {
		r := &c.Runs[i]
		return append([]string{r.Benchmark, r.Label, r.Model, r.Policy, r.Dir, strconv.FormatBool(r.RandomModel),
			strconv.Itoa(r.Instances), strconv.Itoa(r.Scored), f(r.Accuracy.Rate), f(r.Accuracy.Lo), f(r.Accuracy.Hi),
			f(r.BalancedAccuracy), f(r.RefusalRateHarmful.Rate), f(r.OverRefusalBenign.Rate), f(r.UnsafeComplianceRate.Rate),
			f(r.F1), r.Verdict, f(r.Hypothesis.P), f(r.Hypothesis.Adjusted), f(r.AvgTraces), f(r.AvgTracesGenerated),
			strconv.Itoa(r.TokensGenerated)}, calibrationRunRecord(c, i)...)
	})
}

// WritePairsCSV writes one row per paired test of c.
func WritePairsCSV(w io.Writer, c *analysis.Comparison) error {
	header := []string{"benchmark", "run_a", "run_b", "dir_a", "dir_b", "shared", "both_correct", "a_only", "b_only", "both_wrong",
		"p_exact", "p_exact_bh", "chi_sq", "p_chi_sq", "p_chi_sq_bh", "small_sample"}
	f := table.CSVFloat[analysis.Float]
	return writeCSV(w, header, len(c.Pairs), func(i int) []string {
		p := &c.Pairs[i]
		return []string{p.Benchmark, p.RunA, p.RunB, c.Runs[p.A].Dir, c.Runs[p.B].Dir, strconv.Itoa(p.Shared),
			strconv.Itoa(p.BothCorrect), strconv.Itoa(p.AOnly), strconv.Itoa(p.BOnly), strconv.Itoa(p.BothWrong),
			f(p.Exact.P), f(p.Exact.Adjusted), f(p.ChiSq), f(p.ChiSqP.P), f(p.ChiSqP.Adjusted), strconv.FormatBool(p.Small)}
	})
}
