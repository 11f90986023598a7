package main

import (
	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/spf13/pflag"
)

// registerCalibration adds the flags of the calibration and selective
// blocks (analysis.CalibrationOptions), shared by analyze, compare and
// report, to fs; their ranges are checked when they are parsed.
func registerCalibration(fs *pflag.FlagSet, c *analysis.CalibrationOptions) {
	cliflag.Float(fs, &c.TargetRisk, "target-risk", analysis.DefaultTargetRisk, cliflag.OpenUnit,
		"risk of the selective prediction's coverage at target: the largest coverage whose risk is at most this")
	cliflag.Enum(fs, &c.Method, "calibration", analysis.CalibrationIsotonic, []string{analysis.CalibrationIsotonic, analysis.CalibrationPlatt},
		"map from a score to P(correct), cross-fitted: isotonic or platt")
	cliflag.Int(fs, &c.Folds, "calibration-folds", analysis.DefaultCalibrationFolds, cliflag.AtLeast(2),
		"cross-fitting folds of the calibration map")
	cliflag.Int(fs, &c.Bins, "calibration-bins", analysis.DefaultCalibrationBins, cliflag.AtLeast(1),
		"equal-mass bins of the ECE and the reliability diagram")
}
