package sweep

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/deepconf/deepconf/store"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/atomicfile"
)

// This file holds the calls behind deepconf sweep: a grid replayed on a run
// directory, and the prototype's simulators on its predictions.

// ReplayOptions configure ReplayDir.
type ReplayOptions struct {
	// Labels supplies gold labels by instance ID for predictions without
	// any (the prototype's).
	Labels map[string]string
	// Level is the confidence level of the intervals (default
	// analysis.DefaultLevel).
	Level float64
}

// ReplayDir replays the grid g on the stored traces of the run directory
// dir: g's settings over the run's own configuration (RunConfig), the
// stored traces loaded with what those settings need (the sampled tokens'
// log-probabilities for the prototype's policy, the labels of other
// detectors), then Pool.Sweep. It returns the pool and one result per
// setting.
func ReplayDir(ctx context.Context, dir string, g Grid, o ReplayOptions) (*Pool, []Result, error) {
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
		if s.Config.Policy == controller.PolicySeed {
			lo.Logprobs = true
		}
		if s.Detector != StoredLabels && !slices.Contains(lo.Detectors, s.Detector) {
			lo.Detectors = append(lo.Detectors, s.Detector)
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
	// without any (ReadSeedPredictions).
	Labels map[string]string
	// Out is the comprehensive simulator's JSON file (default
	// DIR/PercentileFile); the threshold simulator writes none.
	Out string
}

// DefaultPercentiles are the threshold simulator's percentiles, as the
// prototype's script ran it.
var DefaultPercentiles = []float64{20, 30, 40, 50, 60, 70, 80, 90}

// Simulations are the results of SimulateDir.
type Simulations struct {
	// Path is the predictions file read, Predictions its lines and
	// Missing those without any ground truth.
	Path                 string
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
		return nil, fmt.Errorf("the output file is the comprehensive simulator's JSON; the threshold simulator writes none")
	}
	path, err := store.PredictionsPath(dir)
	if err != nil {
		return nil, err
	}
	preds, missing, err := ReadSeedPredictions(ctx, path, o.Labels)
	if err != nil {
		return nil, err
	}
	out := &Simulations{Path: path, Predictions: len(preds), Missing: missing}
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
