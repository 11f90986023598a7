package sweep

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/internal/setting"
	"github.com/deepconf/deepconf/store"
	"github.com/deepconf/deepconf/table"
)

// This file holds the calls behind deepconf sweep: a grid replayed on a run
// directory, and the prototype's simulators on its predictions.

// Gold names a benchmark whose gold labels complete predictions without
// any (the prototype's): Benchmark, with its local files in Data ("":
// downloaded).
type Gold struct {
	Benchmark, Data string
}

// labels returns the gold labels by instance ID (nil without a benchmark).
func (g Gold) labels(ctx context.Context) (map[string]string, error) {
	if g.Benchmark == "" {
		return nil, nil
	}
	return benchmark.GoldLabels(ctx, g.Benchmark, benchmark.Options{Data: g.Data})
}

// checkDir reports a run directory that is missing or not a directory.
func checkDir(dir string) error {
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("run directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("run directory %s: not a directory", dir)
	}
	return nil
}

// ReplayOptions configure ReplayDir.
type ReplayOptions struct {
	// Labels supplies gold labels by instance ID for predictions without
	// any (the prototype's); Gold loads them from a benchmark when Labels
	// is nil.
	Labels map[string]string
	Gold   Gold
	// Level is the confidence level of the intervals (default
	// analysis.DefaultLevel).
	Level float64
	// ReasoningDelimiters, "OPEN,CLOSE", are the markers of the model's
	// reasoning with which the stored texts are split before another
	// detector labels their answers (LoadOptions.Reasoning); "" takes
	// the run's.
	ReasoningDelimiters string
}

// ReplayDir replays the grid g on the stored traces of the run directory
// dir: g's settings over the run's own configuration (RunConfig), the
// stored traces loaded with what those settings need (the sampled tokens'
// log-probabilities for the prototype's policy, the labels of other
// detectors), then Pool.Sweep. It returns the pool and one result per
// setting.
func ReplayDir(ctx context.Context, dir string, g Grid, o ReplayOptions) (*Pool, []Result, error) {
	if err := checkDir(dir); err != nil {
		return nil, nil, err
	}
	if o.Labels == nil {
		var err error
		if o.Labels, err = o.Gold.labels(ctx); err != nil {
			return nil, nil, err
		}
	}
	d, err := analysis.Load(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	if len(d.Predictions) == 0 {
		return nil, nil, fmt.Errorf("%s: no predictions to replay", d.PredictionsPath)
	}
	base, _, err := RunConfig(d)
	if err != nil {
		return nil, nil, err
	}
	settings, err := g.Settings(base)
	if err != nil {
		return nil, nil, err
	}
	lo := LoadOptions{Labels: o.Labels}
	for _, s := range settings {
		if s.Config.Policy == controller.PolicyPrototype {
			lo.Logprobs = true
		}
		if s.Detector != StoredLabels && !slices.Contains(lo.Detectors, s.Detector) {
			lo.Detectors = append(lo.Detectors, s.Detector)
		}
	}
	if o.ReasoningDelimiters != "" {
		if lo.Reasoning, err = chat.ParseDelimiters(o.ReasoningDelimiters); err != nil {
			return nil, nil, err
		}
		if len(lo.Detectors) == 0 {
			return nil, nil, fmt.Errorf("reasoning delimiters %q split the stored texts for another detector (--detector patterns, …): with the stored labels alone they change nothing", o.ReasoningDelimiters)
		}
	}
	p, err := Load(ctx, d, lo)
	if err != nil {
		return nil, nil, err
	}
	res, err := p.Sweep(ctx, settings, Options{Level: o.Level})
	if err != nil {
		return nil, nil, err
	}
	return p, res, nil
}

// CheckOutput reports a sweep output file whose extension names no format
// of WriteFile, so that a command can refuse it before it replays.
func CheckOutput(path string) error {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv", ".json", ".md":
		return nil
	}
	return fmt.Errorf("%s: want a .csv, .json or .md file", path)
}

// WriteReport writes a replayed sweep as deepconf sweep prints it to w: a
// warning when the run's model is a generated random-weight model, the
// tables (WriteText), and, when out is set, the file out (WriteFile) and
// its figures (WriteFigures), each named on a "wrote" line.
func WriteReport(w io.Writer, p *Pool, rs []Result, out string) error {
	if p.Run != nil && p.Run.RandomModel {
		fmt.Fprintln(w, "WARNING: the model is a generated random-weight test model; these numbers say nothing about any real model.")
	}
	if err := WriteText(w, p, rs); err != nil {
		return err
	}
	if out == "" {
		return nil
	}
	if err := WriteFile(out, p, rs); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nwrote %s\n", out)
	figs, err := WriteFigures(out, rs)
	if err != nil {
		return err
	}
	for _, f := range figs {
		fmt.Fprintf(w, "wrote %s\n", f)
	}
	return nil
}

// The prototype's simulators that SimulateDir runs.
const (
	SimThreshold     = "threshold"
	SimComprehensive = "comprehensive"
	SimBoth          = "both"
)

// PercentileFile is the comprehensive simulator's default output name (the
// script's --output default).
const PercentileFile = "percentile_safety_analysis.json"

// SimulateOptions configure SimulateDir.
type SimulateOptions struct {
	// Sims is SimThreshold, SimComprehensive or SimBoth ("" is SimBoth).
	Sims string
	// Percentiles and Threshold configure the threshold simulator (nil:
	// DefaultPercentiles; a zero count: the prototype's min traces 3 and
	// max traces 10).
	Percentiles []float64
	Threshold   ThresholdOptions
	// Labels supplies the ground truth by instance ID for predictions
	// without any (ReadPrototypePredictions); Gold loads it from a benchmark
	// when Labels is nil.
	Labels map[string]string
	Gold   Gold
	// Out is the comprehensive simulator's JSON file (default
	// DIR/PercentileFile); the threshold simulator writes none.
	Out string
}

// DefaultPercentiles are the threshold simulator's percentiles, as the
// prototype's script ran it.
var DefaultPercentiles = []float64{20, 30, 40, 50, 60, 70, 80, 90}

// Simulations are the results of SimulateDir.
type Simulations struct {
	// Dir is the run directory, Path the predictions file read,
	// Predictions its lines and Missing those without any ground truth.
	Dir, Path            string
	Predictions, Missing int
	// Threshold holds the threshold simulator's results (nil when not
	// run) with the options it ran with, Comprehensive the comprehensive
	// one's, which was written to Written.
	Threshold        []ThresholdResult
	ThresholdOptions ThresholdOptions
	Comprehensive    *PercentileAnalysis
	Written          string
}

// SimulateDir runs the prototype's post-hoc simulators on the predictions
// of the run directory dir (predictions.jsonl, else the prototype's
// checkpoint file): the threshold simulator for o.Percentiles and the
// comprehensive simulator, whose JSON it writes.
func SimulateDir(ctx context.Context, dir string, o SimulateOptions) (*Simulations, error) {
	sims := o.Sims
	switch sims {
	case "":
		sims = SimBoth
	case SimThreshold, SimComprehensive, SimBoth:
	default:
		return nil, fmt.Errorf("simulator %q: want %s, %s or %s", sims, SimThreshold, SimComprehensive, SimBoth)
	}
	if sims == SimThreshold && o.Out != "" {
		return nil, &setting.Error{Name: "out", Value: o.Out, Rule: "names the comprehensive simulator's JSON; the threshold simulator writes to stdout only"}
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	if o.Labels == nil {
		var err error
		if o.Labels, err = o.Gold.labels(ctx); err != nil {
			return nil, err
		}
	}
	path, err := store.PredictionsPath(dir)
	if err != nil {
		return nil, err
	}
	preds, missing, err := ReadPrototypePredictions(ctx, path, o.Labels)
	if err != nil {
		return nil, err
	}
	out := &Simulations{Dir: dir, Path: path, Predictions: len(preds), Missing: missing}
	if o.Percentiles == nil {
		o.Percentiles = DefaultPercentiles
	}
	o.Threshold.MinTraces = cmp.Or(o.Threshold.MinTraces, 3)
	o.Threshold.MaxTraces = cmp.Or(o.Threshold.MaxTraces, 10)
	out.ThresholdOptions = o.Threshold
	if sims != SimComprehensive {
		if out.Threshold, err = SimulateThreshold(preds, o.Percentiles, o.Threshold); err != nil {
			return nil, err
		}
	}
	if sims != SimThreshold {
		if out.Comprehensive, err = SimulateComprehensive(preds); err != nil {
			return nil, err
		}
		out.Written = o.Out
		if out.Written == "" {
			out.Written = filepath.Join(dir, PercentileFile)
		}
		if err := atomicfile.Write(out.Written, out.Comprehensive.WriteJSON); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// WriteText writes the simulations as deepconf sweep --mode prototype prints
// them: a line naming the run, the threshold simulator's tables
// (ThresholdTables), the comprehensive simulator's table and the file it
// wrote.
func (s *Simulations) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "Run %s: %d predictions (%s), the prototype's post-hoc simulators (seed mode)\n\n", s.Dir, s.Predictions, filepath.Base(s.Path))
	if s.Threshold != nil {
		if err := table.WriteText(w, ThresholdTables(s.Threshold, s.ThresholdOptions)); err != nil {
			return err
		}
	}
	if s.Comprehensive == nil {
		return nil
	}
	if s.Threshold != nil {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "Simulator B (comprehensive_percentile_analysis.py; individual trace ≥ threshold from the 3rd trace, 11-phrase rule; predicted unsafe = mostly did not refuse)")
	if err := WriteComprehensiveTable(w, s.Comprehensive); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nwrote %s\n", s.Written)
	return err
}
