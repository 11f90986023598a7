package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"github.com/deepconf/deepconf/table"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// This file draws the calibration figures: reliability diagrams (one run's
// scores, or one curve per model) and risk–coverage curves with the oracle
// and random orders.

// Calibration figure names (file names without extension).
const (
	NameReliability           = "reliability_diagram"
	NameReliabilityComparison = "reliability_by_model"
	NameRiskCoverageError     = "risk_coverage_error"
	NameRiskCoverageUnsafe    = "risk_coverage_unsafe"
	// NameSweepAURC prefixes the names of the sweep's AURC figures
	// (SweepAURCFigure).
	NameSweepAURC = "aurc"
)

// ReliabilityBin is one bin of a reliability diagram: N instances with
// mean forecast probability Forecast, of which the share Observed was
// right, with its interval [Lo, Hi] (NaN: none).
type ReliabilityBin struct {
	Forecast, Observed, Lo, Hi float64
	N                          int
}

// ReliabilityCurve is a named reliability diagram: a score of a run, or a
// model.
type ReliabilityCurve struct {
	Name string
	Bins []ReliabilityBin
}

// checkUnit validates a probability-like coordinate.
func checkUnit(what string, v float64) error {
	if !(v >= 0 && v <= 1) {
		return fmt.Errorf("%s = %v: want a value in [0, 1]", what, v)
	}
	return nil
}

// reliabilitySeries converts curves to series of points (x forecast, y
// observed), validating them; labels carries the bins' counts when set.
func reliabilitySeries(what string, curves []ReliabilityCurve, labels bool) ([]Series, error) {
	if len(curves) == 0 {
		return nil, fmt.Errorf("%s: %w", what, errNoData)
	}
	series := make([]Series, 0, len(curves))
	for _, c := range curves {
		s := Series{Name: c.Name}
		n := 0
		for i, b := range c.Bins {
			where := fmt.Sprintf("%s: curve %q bin %d", what, c.Name, i)
			if err := checkUnit(where+": forecast", b.Forecast); err != nil {
				return nil, err
			}
			if err := checkUnit(where+": observed", b.Observed); err != nil {
				return nil, err
			}
			if err := checkInterval(where, b.Observed, b.Lo, b.Hi); err != nil {
				return nil, err
			}
			if b.N < 0 {
				return nil, fmt.Errorf("%s: negative count %d", where, b.N)
			}
			pt := Point{X: b.Forecast, Y: b.Observed, Lo: b.Lo, Hi: b.Hi, N: b.N}
			if labels {
				pt.Label = fmt.Sprintf("n=%d", b.N)
			}
			s.Points = append(s.Points, pt)
			n += b.N
		}
		if !labels {
			s.Name = fmt.Sprintf("%s (n=%d)", c.Name, n)
		}
		series = append(series, s)
	}
	return series, nil
}

// diagonal returns the dashed line y = x of perfect calibration.
func diagonal() (*plotter.Line, error) {
	l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	if err != nil {
		return nil, err
	}
	l.Color = color.Gray{0x80}
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	return l, nil
}

// unitAxes fixes both axes to [0, 1] with a small margin, so points on the
// edges stay inside the frame.
func unitAxes(p *plot.Plot) {
	p.X.Min, p.X.Max = -0.02, 1.02
	p.Y.Min, p.Y.Max = -0.02, 1.02
}

// ReliabilityFigure is the reliability diagram of a run: for each curve
// (such as the vote share β as it is and the DeepConf confidence mapped
// to a probability), the equal-mass bins' share of correct answers (y)
// against their mean forecast (x) with interval whiskers (level, e.g. 0.95
// Wilson intervals) and each bin's count, and the diagonal of perfect
// calibration.
func ReliabilityFigure(curves []ReliabilityCurve, level float64) (*Figure, error) {
	series, err := reliabilitySeries("reliability figure", curves, true)
	if err != nil {
		return nil, err
	}
	p := newPlot("Reliability diagram", "forecast probability of a correct answer (bin mean)", "observed share correct")
	d, err := diagonal()
	if err != nil {
		return nil, fmt.Errorf("reliability figure: %w", err)
	}
	p.Add(d)
	leg, err := seriesFigure(p, series, true)
	if err != nil {
		return nil, fmt.Errorf("reliability figure: %w", err)
	}
	unitAxes(p)
	return &Figure{
		Name:  NameReliability,
		Title: "Reliability diagram",
		Caption: fmt.Sprintf("Instances sorted by their forecast probability of a correct answer and cut into equal-mass bins; "+
			"each point is a bin's observed share of correct answers against its mean forecast, with %s Wilson intervals and the bin's count. "+
			"Points on the dashed diagonal are calibrated; below it the forecasts are overconfident, above it underconfident.", table.Level(level)),
		plot:   p,
		legend: leg,
	}, nil
}

// ReliabilityComparisonFigure is the reliability diagram across models:
// one curve per model (its bins' observed share correct against their
// mean forecast, with interval whiskers at level), in the order given
// (typically by model size), and the diagonal.
func ReliabilityComparisonFigure(curves []ReliabilityCurve, level float64) (*Figure, error) {
	series, err := reliabilitySeries("reliability comparison figure", curves, false)
	if err != nil {
		return nil, err
	}
	p := newPlot("Reliability by model", "forecast probability of a correct answer (bin mean)", "observed share correct")
	d, err := diagonal()
	if err != nil {
		return nil, fmt.Errorf("reliability comparison figure: %w", err)
	}
	p.Add(d)
	leg, err := seriesFigure(p, series, true)
	if err != nil {
		return nil, fmt.Errorf("reliability comparison figure: %w", err)
	}
	if leg == nil {
		leg = newLegend()
		leg.Add(series[0].Name)
	}
	unitAxes(p)
	return &Figure{
		Name:  NameReliabilityComparison,
		Title: "Reliability by model",
		Caption: fmt.Sprintf("One reliability curve per model (n: instances): equal-mass bins of the forecast probability, "+
			"observed share of correct answers with %s Wilson intervals. The closer to the dashed diagonal, the better calibrated.", table.Level(level)),
		plot:   p,
		legend: leg,
	}, nil
}

// RiskCoverageCurve is the risk–coverage curve of one score: points with X
// the coverage (share of instances kept, the most confident first) and Y
// the risk among the kept (Lo, Hi: its interval, NaN for none); FullRisk
// is the risk at full coverage, which fixes the oracle and random curves.
type RiskCoverageCurve struct {
	Name     string
	Points   []Point
	FullRisk float64
}

// RiskCoverageKind says which risk a risk–coverage figure shows.
type RiskCoverageKind int

// Risks of a risk–coverage figure.
const (
	// RiskErrors is 1 − accuracy among the kept instances.
	RiskErrors RiskCoverageKind = iota
	// RiskUnsafeCompliance is the share of harmful prompts among the kept
	// complied instances.
	RiskUnsafeCompliance
)

// oraclePoints is the number of points of a drawn oracle curve.
const oraclePoints = 200

// RiskCoverageFigure draws risk–coverage curves for kind: each curve's
// risk (y) against coverage (x), with its interval band when the points
// have one; for each distinct full-coverage risk r, the oracle curve (the
// failures abstained on first: risk max(0, 1 − (1 − r)/c) at coverage c)
// and the random order's expected risk r; and the target risk (NaN: none)
// as a dotted line.
func RiskCoverageFigure(kind RiskCoverageKind, curves []RiskCoverageCurve, target float64) (*Figure, error) {
	name, ylabel, what := NameRiskCoverageError, "risk: share of errors among the kept", "errors (1 − accuracy)"
	if kind == RiskUnsafeCompliance {
		name, ylabel, what = NameRiskCoverageUnsafe, "risk: share of harmful prompts among the kept", "unsafe compliance (harmful prompts among complied instances)"
	} else if kind != RiskErrors {
		return nil, fmt.Errorf("risk-coverage figure: unknown kind %d", kind)
	}
	if len(curves) == 0 {
		return nil, fmt.Errorf("risk-coverage figure: %w", errNoData)
	}
	if !math.IsNaN(target) {
		if err := checkUnit("risk-coverage figure: target risk", target); err != nil {
			return nil, err
		}
	}
	p := newPlot("Risk–coverage: "+what, "coverage (share kept, most confident first)", ylabel)
	p.Add(plotter.NewGrid())
	leg := newLegend()
	var risks []float64
	drawn := 0
	for i, c := range curves {
		if err := checkUnit(fmt.Sprintf("risk-coverage figure: curve %q full risk", c.Name), c.FullRisk); err != nil {
			return nil, err
		}
		if !slices.Contains(risks, c.FullRisk) {
			risks = append(risks, c.FullRisk)
		}
		var line, upper, lower plotter.XYs
		for j, pt := range c.Points {
			where := fmt.Sprintf("risk-coverage figure: curve %q point %d", c.Name, j)
			if err := checkUnit(where+": coverage", pt.X); err != nil {
				return nil, err
			}
			if err := checkUnit(where+": risk", pt.Y); err != nil {
				return nil, err
			}
			if err := checkInterval(where, pt.Y, pt.Lo, pt.Hi); err != nil {
				return nil, err
			}
			line = append(line, plotter.XY{X: pt.X, Y: pt.Y})
			if finite(pt.Lo) && finite(pt.Hi) {
				upper = append(upper, plotter.XY{X: pt.X, Y: pt.Hi})
				lower = append(lower, plotter.XY{X: pt.X, Y: pt.Lo})
			}
		}
		if len(line) == 0 {
			continue
		}
		drawn++
		col := colour(i)
		if len(upper) > 1 {
			ring := append(plotter.XYs{}, lower...)
			for k := len(upper) - 1; k >= 0; k-- {
				ring = append(ring, upper[k])
			}
			band, err := plotter.NewPolygon(ring)
			if err != nil {
				return nil, fmt.Errorf("risk-coverage figure: %w", err)
			}
			band.Color = fill(col, 0x30)
			band.LineStyle.Width = 0
			p.Add(band)
		}
		if len(line) == 1 {
			sc, err := plotter.NewScatter(line)
			if err != nil {
				return nil, fmt.Errorf("risk-coverage figure: %w", err)
			}
			sc.GlyphStyle.Color, sc.GlyphStyle.Radius = col, vg.Points(3)
			p.Add(sc)
			leg.Add(c.Name, sc)
			continue
		}
		l, err := plotter.NewLine(line)
		if err != nil {
			return nil, fmt.Errorf("risk-coverage figure: %w", err)
		}
		l.Color, l.Width = col, vg.Points(1.5)
		p.Add(l)
		leg.Add(c.Name, l)
	}
	if drawn == 0 {
		return nil, fmt.Errorf("risk-coverage figure: %w", errNoData)
	}
	for k, r := range risks {
		oracle := make(plotter.XYs, 0, oraclePoints)
		for j := 1; j <= oraclePoints; j++ {
			cov := float64(j) / oraclePoints
			oracle = append(oracle, plotter.XY{X: cov, Y: math.Max(0, 1-(1-r)/cov)})
		}
		ol, err := plotter.NewLine(oracle)
		if err != nil {
			return nil, fmt.Errorf("risk-coverage figure: %w", err)
		}
		ol.Color, ol.Width = color.Gray{0x40}, vg.Points(1)
		ol.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		rl, err := plotter.NewLine(plotter.XYs{{X: 0, Y: r}, {X: 1, Y: r}})
		if err != nil {
			return nil, fmt.Errorf("risk-coverage figure: %w", err)
		}
		rl.Color, rl.Width = color.Gray{0x80}, vg.Points(1)
		rl.Dashes = []vg.Length{vg.Points(1.5), vg.Points(2)}
		p.Add(ol, rl)
		if k == 0 {
			leg.Add("oracle", ol)
			leg.Add("random", rl)
		}
	}
	if !math.IsNaN(target) {
		tl, err := plotter.NewLine(plotter.XYs{{X: 0, Y: target}, {X: 1, Y: target}})
		if err != nil {
			return nil, fmt.Errorf("risk-coverage figure: %w", err)
		}
		tl.Color, tl.Width = palette[1], vg.Points(0.75)
		tl.Dashes = []vg.Length{vg.Points(1), vg.Points(2)}
		p.Add(tl)
		leg.Add(fmt.Sprintf("target %.3g", target), tl)
	}
	// The risks are usually small: the y axis spans 0 to the largest
	// value drawn, not [0, 1].
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min = 0
	p.Y.Max = math.Min(1, math.Max(p.Y.Max, 0.01)*1.05)
	caption := "Abstaining on the least confident instances: the risk among the kept instances (" + what + ") against the share kept, " +
		"with the Wilson band of each point. The dashed curve is the oracle (failures abstained on first), the dotted line the expected risk of a random order (the full-coverage risk); " +
		"the area under a curve is its AURC, lower is better."
	if !math.IsNaN(target) {
		caption += fmt.Sprintf(" The thin dotted line marks the target risk %.3g.", target)
	}
	return &Figure{Name: name, Title: "Risk–coverage: " + what, Caption: caption, plot: p, legend: leg}, nil
}

// SweepAURCFigure draws how the area under the risk–coverage curve moves
// with a swept setting: each series' AURC (y) against the setting's value
// (x, labelled xlabel), one line per series (such as errors and unsafe
// compliance, for each value of the other swept settings). Its name is
// NameSweepAURC + "_" + key (key names the setting, e.g. "percentile").
func SweepAURCFigure(key, xlabel string, series []Series) (*Figure, error) {
	if key == "" {
		return nil, fmt.Errorf("sweep AURC figure: no key")
	}
	for _, s := range series {
		for j, pt := range s.Points {
			if finite(pt.Y) {
				if err := checkUnit(fmt.Sprintf("sweep AURC figure: series %q point %d: AURC", s.Name, j), pt.Y); err != nil {
					return nil, err
				}
			}
		}
	}
	title := "AURC vs " + xlabel
	p := newPlot(title, xlabel, "AURC (lower is better)")
	leg, err := seriesFigure(p, series, true)
	if err != nil {
		return nil, fmt.Errorf("sweep AURC figure: %w", err)
	}
	if leg == nil {
		leg = newLegend()
		leg.Add(series[0].Name)
	}
	padX(p)
	// AURCs are usually small: the y axis spans 0 to the largest value.
	p.Y.Min = 0
	p.Y.Max = math.Min(1, math.Max(p.Y.Max, 0.01)*1.05)
	return &Figure{
		Name:  NameSweepAURC + "_" + key,
		Title: title,
		Caption: "Each point replays one setting on the run's stored traces and ranks the replayed instances by their DeepConf confidence: " +
			"the area under the risk–coverage curve when abstaining on the least confident (errors among the scored instances, or harmful prompts among the complied ones). " +
			"Lower is better; a confidence with no signal gives the full-coverage risk.",
		plot:   p,
		legend: leg,
	}, nil
}
