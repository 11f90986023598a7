package report

import (
	"math"
	"strings"
	"testing"
)

// sampleCalibrationFigures builds each calibration figure from fixed data.
func sampleCalibrationFigures(t testing.TB) []*Figure {
	t.Helper()
	nan := math.NaN()
	beta := ReliabilityCurve{Name: "β (raw)", Bins: []ReliabilityBin{
		{Forecast: 0.55, Observed: 0.41, Lo: 0.32, Hi: 0.5, N: 110},
		{Forecast: 0.72, Observed: 0.6, Lo: 0.51, Hi: 0.69, N: 110},
		{Forecast: 0.86, Observed: 0.78, Lo: 0.7, Hi: 0.85, N: 110},
		{Forecast: 0.97, Observed: 0.9, Lo: 0.84, Hi: 0.94, N: 110},
	}}
	conf := ReliabilityCurve{Name: "confidence (isotonic)", Bins: []ReliabilityBin{
		{Forecast: 0.45, Observed: 0.44, Lo: 0.35, Hi: 0.53, N: 110},
		{Forecast: 0.66, Observed: 0.69, Lo: 0.6, Hi: 0.77, N: 110},
		{Forecast: 0.82, Observed: 0.8, Lo: 0.72, Hi: 0.86, N: 110},
		{Forecast: 1, Observed: 1, Lo: 0.97, Hi: 1, N: 110},
	}}
	rel, err := ReliabilityFigure([]ReliabilityCurve{beta, conf}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	small := ReliabilityCurve{Name: "Qwen3-0.6B", Bins: []ReliabilityBin{
		{Forecast: 0.6, Observed: 0.3, Lo: 0.2, Hi: 0.42, N: 60}, {Forecast: 0.9, Observed: 0.55, Lo: 0.43, Hi: 0.67, N: 60},
	}}
	big := ReliabilityCurve{Name: "Qwen3-8B", Bins: []ReliabilityBin{
		{Forecast: 0.6, Observed: 0.58, Lo: 0.46, Hi: 0.7, N: 60}, {Forecast: 0.9, Observed: 0.88, Lo: 0.78, Hi: 0.94, N: 60},
	}}
	cmp, err := ReliabilityComparisonFigure([]ReliabilityCurve{small, big}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	var a, b []Point
	for i := 1; i <= 20; i++ {
		c := float64(i) / 20
		a = append(a, Point{X: c, Y: 0.25 * c * c, Lo: math.Max(0, 0.25*c*c-0.05), Hi: 0.25*c*c + 0.05})
		b = append(b, Point{X: c, Y: 0.25, Lo: nan, Hi: nan})
	}
	rc, err := RiskCoverageFigure(RiskErrors, []RiskCoverageCurve{
		{Name: "confidence", Points: a, FullRisk: 0.25}, {Name: "β", Points: b, FullRisk: 0.25},
	}, 0.05)
	if err != nil {
		t.Fatal(err)
	}
	ru, err := RiskCoverageFigure(RiskUnsafeCompliance, []RiskCoverageCurve{{Name: "confidence", Points: a, FullRisk: 0.25}}, nan)
	if err != nil {
		t.Fatal(err)
	}
	return []*Figure{rel, cmp, rc, ru}
}

// TestFiguresWritten and TestFiguresDeterministic render the calibration
// figures with the others; this test checks what they must show.
func TestCalibrationFiguresContent(t *testing.T) {
	figs := sampleCalibrationFigures(t)
	want := []string{NameReliability, NameReliabilityComparison, NameRiskCoverageError, NameRiskCoverageUnsafe}
	for i, f := range figs {
		if f.Name != want[i] || f.Title == "" || f.Caption == "" {
			t.Errorf("figure %d: name %q title %q caption %q", i, f.Name, f.Title, f.Caption)
		}
	}
	// The text the figures promise: bin counts, the models' totals, the
	// oracle and random legend entries, the target.
	svg := func(f *Figure) string {
		b, err := f.SVG()
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for _, s := range []string{"n=110", "β (raw)", "confidence (isotonic)"} {
		if !strings.Contains(svg(figs[0]), s) {
			t.Errorf("reliability diagram lacks %q", s)
		}
	}
	for _, s := range []string{"Qwen3-0.6B (n=120)", "Qwen3-8B (n=120)"} {
		if !strings.Contains(svg(figs[1]), s) {
			t.Errorf("comparison lacks %q", s)
		}
	}
	for _, s := range []string{"oracle", "random", "target 0.05"} {
		if !strings.Contains(svg(figs[2]), s) {
			t.Errorf("risk-coverage figure lacks %q", s)
		}
	}
	if strings.Contains(svg(figs[3]), "target") || !strings.Contains(figs[3].Caption, "unsafe") {
		t.Error("unsafe figure: a target drawn without one, or the wrong risk")
	}
}

func TestCalibrationFigureErrors(t *testing.T) {
	nan := math.NaN()
	pts := []Point{{X: 0.5, Y: 0.1, Lo: nan, Hi: nan}}
	cases := map[string]func() error{
		"no curves":   func() error { _, err := ReliabilityFigure(nil, 0.95); return err },
		"no models":   func() error { _, err := ReliabilityComparisonFigure(nil, 0.95); return err },
		"empty curve": func() error { _, err := ReliabilityFigure([]ReliabilityCurve{{Name: "x"}}, 0.95); return err },
		"forecast > 1": func() error {
			_, err := ReliabilityFigure([]ReliabilityCurve{{Bins: []ReliabilityBin{{Forecast: 1.2, Lo: nan, Hi: nan}}}}, 0.95)
			return err
		},
		"observed NaN": func() error {
			_, err := ReliabilityFigure([]ReliabilityCurve{{Bins: []ReliabilityBin{{Observed: nan, Lo: nan, Hi: nan}}}}, 0.95)
			return err
		},
		"reversed": func() error {
			_, err := ReliabilityFigure([]ReliabilityCurve{{Bins: []ReliabilityBin{{Observed: 0.5, Lo: 0.6, Hi: 0.4}}}}, 0.95)
			return err
		},
		"negative n": func() error {
			_, err := ReliabilityFigure([]ReliabilityCurve{{Bins: []ReliabilityBin{{Lo: nan, Hi: nan, N: -1}}}}, 0.95)
			return err
		},
		"no rc curves": func() error { _, err := RiskCoverageFigure(RiskErrors, nil, 0.05); return err },
		"no rc points": func() error {
			_, err := RiskCoverageFigure(RiskErrors, []RiskCoverageCurve{{Name: "x", FullRisk: 0.2}}, 0.05)
			return err
		},
		"coverage > 1": func() error {
			_, err := RiskCoverageFigure(RiskErrors, []RiskCoverageCurve{{Points: []Point{{X: 2, Y: 0.1}}}}, 0.05)
			return err
		},
		"full risk NaN": func() error {
			_, err := RiskCoverageFigure(RiskErrors, []RiskCoverageCurve{{Points: pts, FullRisk: nan}}, 0.05)
			return err
		},
		"bad target": func() error {
			_, err := RiskCoverageFigure(RiskErrors, []RiskCoverageCurve{{Points: pts, FullRisk: 0.1}}, 2)
			return err
		},
		"bad kind": func() error {
			_, err := RiskCoverageFigure(7, []RiskCoverageCurve{{Points: pts, FullRisk: 0.1}}, 0.05)
			return err
		},
	}
	for name, fn := range cases {
		if err := fn(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// One model, one point: drawn, with a legend.
	if _, err := ReliabilityComparisonFigure([]ReliabilityCurve{{Name: "m", Bins: []ReliabilityBin{{Forecast: 0.5, Observed: 0.5, Lo: nan, Hi: nan, N: 3}}}}, 0.95); err != nil {
		t.Error(err)
	}
	if _, err := RiskCoverageFigure(RiskErrors, []RiskCoverageCurve{{Name: "x", Points: pts, FullRisk: 0.1}}, nan); err != nil {
		t.Error(err)
	}
}
