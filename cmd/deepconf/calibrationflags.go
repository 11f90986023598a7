package main

import (
	"fmt"

	"github.com/deepconf/deepconf/analysis"
	"github.com/spf13/pflag"
)

// calibrationFlags are the flags of the calibration and selective blocks
// (analysis.CalibrationOptions), shared by analyze, compare and report.
type calibrationFlags struct {
	targetRisk float64
	method     string
	folds      int
	bins       int
}

// register adds the flags to fs.
func (c *calibrationFlags) register(fs *pflag.FlagSet) {
	fs.Float64Var(&c.targetRisk, "target-risk", analysis.DefaultTargetRisk,
		"risk of the selective prediction's coverage at target, in (0, 1): the largest coverage whose risk is at most this")
	fs.StringVar(&c.method, "calibration", analysis.CalibrationIsotonic,
		"map from a score to P(correct), cross-fitted: isotonic or platt")
	fs.IntVar(&c.folds, "calibration-folds", analysis.DefaultCalibrationFolds,
		"cross-fitting folds of the calibration map (≥ 2)")
	fs.IntVar(&c.bins, "calibration-bins", analysis.DefaultCalibrationBins,
		"equal-mass bins of the ECE and the reliability diagram (≥ 1)")
}

// options checks the flags and returns the calibration options.
func (c *calibrationFlags) options() (analysis.CalibrationOptions, error) {
	var o analysis.CalibrationOptions
	if !(c.targetRisk > 0 && c.targetRisk < 1) {
		return o, fmt.Errorf("--target-risk %v: must be in (0, 1)", c.targetRisk)
	}
	switch c.method {
	case analysis.CalibrationIsotonic, analysis.CalibrationPlatt:
	default:
		return o, fmt.Errorf("--calibration %q: want %s or %s", c.method, analysis.CalibrationIsotonic, analysis.CalibrationPlatt)
	}
	if c.folds < 2 {
		return o, fmt.Errorf("--calibration-folds %d: must be ≥ 2", c.folds)
	}
	if c.bins < 1 {
		return o, fmt.Errorf("--calibration-bins %d: must be ≥ 1", c.bins)
	}
	return analysis.CalibrationOptions{Method: c.method, Folds: c.folds, Bins: c.bins, TargetRisk: c.targetRisk}, nil
}
