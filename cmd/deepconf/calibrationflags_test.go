package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestCalibrationFlagErrors checks that analyze, compare and report refuse
// out-of-range calibration flags before analysing anything, naming the
// flag and its range.
func TestCalibrationFlagErrors(t *testing.T) {
	dir := syntheticRun(t)
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--target-risk", "0"}, "--target-risk 0: must be in (0, 1)"},
		{[]string{"--target-risk", "1"}, "--target-risk 1: must be in (0, 1)"},
		{[]string{"--target-risk", "NaN"}, "--target-risk NaN: must be in (0, 1)"},
		{[]string{"--calibration", "beta"}, `--calibration "beta": want isotonic or platt`},
		{[]string{"--calibration-folds", "1"}, "--calibration-folds 1: must be ≥ 2"},
		{[]string{"--calibration-bins", "0"}, "--calibration-bins 0: must be ≥ 1"},
	} {
		for name, cmd := range map[string]func() *cobra.Command{"analyze": newAnalyzeCmd, "compare": newCompareCmd, "report": newReportCmd} {
			args := append([]string{dir}, tt.args...)
			if _, _, err := execute(cmd(), args...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("%s %v: error %v, want %q", name, tt.args, err, tt.want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "analysis.json")); err == nil {
		t.Error("a refused flag still wrote analysis.json")
	}
}

// TestCalibrationFlags checks that the flags reach analysis.json.
func TestCalibrationFlags(t *testing.T) {
	dir := syntheticRun(t)
	out := t.TempDir()
	if _, stderr, err := execute(newAnalyzeCmd(), dir, "--out", out, "--no-baselines", "--calibration", "platt", "--calibration-folds", "3",
		"--calibration-bins", "4", "--target-risk", "0.1", "--bootstrap", "50"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b, err := os.ReadFile(filepath.Join(out, "analysis.json"))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Calibration struct {
			Method    string `json:"method"`
			Folds     int    `json:"folds"`
			Bins      int    `json:"bins"`
			Resamples int    `json:"resamples"`
		} `json:"calibration"`
		Selective struct {
			TargetRisk float64 `json:"target_risk"`
			Resamples  int     `json:"resamples"`
		} `json:"selective"`
	}
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	if c, s := a.Calibration, a.Selective; c.Method != "platt" || c.Folds != 3 || c.Bins != 4 || c.Resamples != 50 || s.TargetRisk != 0.1 || s.Resamples != 50 {
		t.Errorf("calibration %+v, selective %+v", c, s)
	}
}
