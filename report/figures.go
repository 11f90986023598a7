package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/stats"
	"github.com/deepconf/deepconf/table"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Estimate is a value with its interval, such as a proportion with its
// Wilson interval. A NaN Value is undefined (an empty group) and is not
// drawn; NaN Lo and Hi mean no interval.
type Estimate struct {
	Label         string
	Value, Lo, Hi float64
	// N is the sample size behind the value, shown with the label.
	N int
}

// Group is a labelled sample of values.
type Group struct {
	Label  string
	Values []float64
}

// Point is one point of a series: Y at X with the interval [Lo, Hi] (NaN:
// none); N is the sample size behind it and Label an optional annotation.
// Points with a non-finite X or Y are not drawn.
type Point struct {
	X, Y, Lo, Hi float64
	N            int
	Label        string
}

// Series is a named sequence of points.
type Series struct {
	Name   string
	Points []Point
}

// Confusion is a 2×2 confusion matrix with harmful = positive and refusal
// = predicted positive: TP harmful refused, FN harmful complied with
// (unsafe compliance), FP benign refused (over-refusal), TN benign
// complied with.
type Confusion struct {
	TP, FN, FP, TN int
}

// RiskBin is one bin of a risk curve: the complied instances whose
// confidence rank lies in [QuantileLo, QuantileHi) (fractions of the
// ranking), their unsafe-compliance Rate with its interval [Lo, Hi], and
// their number N.
type RiskBin struct {
	QuantileLo, QuantileHi float64
	Rate, Lo, Hi           float64
	N                      int
}

// BarSeries is one series of a grouped bar chart: Values[i] is its bar in
// group i.
type BarSeries struct {
	Name   string
	Values []Estimate
}

// Figure names (file names without extension).
const (
	NameAccuracy   = "accuracy_by_category"
	NameViolin     = "confidence_by_category"
	NameTraces     = "traces_vs_accuracy"
	NameConfusion  = "confusion_matrix"
	NamePercentile = "percentile_curves"
	NameRisk       = "risk_curve"
	NameComparison = "model_comparison"
)

// displayLabel turns a key such as confident_refusal into "confident
// refusal".
func displayLabel(s string) string { return strings.ReplaceAll(s, "_", " ") }

// categoryColour returns the colour of a category label, or the i-th
// palette colour for other labels.
func categoryColour(label string, i int) color.RGBA {
	key := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(label)), " ", "_")
	if c, ok := categoryColours[key]; ok {
		return c
	}
	return colour(i)
}

// unitY fixes the y axis to [0, 1] (rates), widened if data exceed it.
func unitY(p *plot.Plot) {
	p.Y.Min = math.Min(p.Y.Min, 0)
	p.Y.Max = math.Max(p.Y.Max, 1)
	if p.Y.Min > 0 || math.IsInf(p.Y.Min, 0) {
		p.Y.Min = 0
	}
	if math.IsInf(p.Y.Max, 0) {
		p.Y.Max = 1
	}
}

// checkInterval validates an estimate's numbers.
func checkInterval(what string, v, lo, hi float64) error {
	if math.IsInf(v, 0) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return fmt.Errorf("%s: infinite value", what)
	}
	if finite(lo) && finite(hi) && lo > hi {
		return fmt.Errorf("%s: interval [%v, %v] is reversed", what, lo, hi)
	}
	return nil
}

// AccuracyFigure is the bar chart of accuracy by category with interval
// whiskers (level is the intervals' confidence level, e.g. 0.95). Bars of
// the four categories get the prototype's category colours.
func AccuracyFigure(cats []Estimate, level float64) (*Figure, error) {
	if len(cats) == 0 {
		return nil, fmt.Errorf("accuracy figure: %w", errNoData)
	}
	p := newPlot("Accuracy by category", "", "accuracy")
	var bs bars
	names := make([]string, len(cats))
	for i, e := range cats {
		if err := checkInterval(fmt.Sprintf("accuracy figure: category %q", e.Label), e.Value, e.Lo, e.Hi); err != nil {
			return nil, err
		}
		bs = append(bs, bar{X: float64(i), W: 0.6, Value: e.Value, Lo: e.Lo, Hi: e.Hi, Colour: categoryColour(e.Label, i)})
		names[i] = fmt.Sprintf("%s\nn=%d", displayLabel(e.Label), e.N)
	}
	p.Add(plotter.NewGrid(), bs)
	p.NominalX(names...)
	padNominalX(p, len(cats))
	unitY(p)
	return &Figure{
		Name:    NameAccuracy,
		Title:   "Accuracy by category",
		Caption: fmt.Sprintf("Share of correctly handled instances per category; whiskers are %s Wilson intervals. Empty categories have no bar.", table.Level(level)),
		plot:    p,
	}, nil
}

// violinPoints is the number of ordinates of a violin's density.
const violinPoints = 128

// newViolin computes the violin of values at x: a Gaussian KDE with
// Silverman's bandwidth evaluated on violinPoints ordinates spanning the
// data (trimmed at the extremes, as ggplot2's geom_violin), scaled so that
// the widest point is halfWidth, and the quartiles (type 7).
func newViolin(values []float64, x, halfWidth float64, c color.RGBA) (violin, error) {
	v := violin{X: x, HalfWidth: halfWidth, N: len(values), Colour: c}
	if len(values) == 0 {
		return v, nil
	}
	s := slices.Clone(values)
	slices.Sort(s)
	v.Min, v.Max = s[0], s[len(s)-1]
	v.Q1, v.Med, v.Q3 = stats.Quantile(s, 0.25), stats.Quantile(s, 0.5), stats.Quantile(s, 0.75)
	if len(s) < 2 || v.Min == v.Max {
		return v, nil
	}
	h, err := stats.SilvermanBandwidth(s)
	if err != nil {
		return v, err
	}
	v.Ys = make([]float64, violinPoints)
	for i := range v.Ys {
		v.Ys[i] = v.Min + (v.Max-v.Min)*float64(i)/float64(violinPoints-1)
	}
	v.Dens, err = stats.GaussianKDE(s, h, v.Ys)
	if err != nil {
		return v, err
	}
	peak := slices.Max(v.Dens)
	for i := range v.Dens {
		v.Dens[i] *= halfWidth / peak
	}
	return v, nil
}

// ViolinFigure is the violin plot of a confidence metric per group
// (category): a Gaussian kernel density estimate with Silverman's
// bandwidth, mirrored, trimmed to the data range and scaled to a common
// maximum width, with the median (solid) and quartiles (dashed) marked.
// Non-finite values are left out and counted in the caption. metric
// labels the y axis.
func ViolinFigure(groups []Group, metric string) (*Figure, error) {
	if len(groups) == 0 {
		return nil, fmt.Errorf("violin figure: %w", errNoData)
	}
	p := newPlot("Confidence by category", "", metric)
	var vs violins
	names := make([]string, len(groups))
	dropped := 0
	for i, g := range groups {
		vals := make([]float64, 0, len(g.Values))
		for _, x := range g.Values {
			if finite(x) {
				vals = append(vals, x)
			} else {
				dropped++
			}
		}
		v, err := newViolin(vals, float64(i), 0.4, categoryColour(g.Label, i))
		if err != nil {
			return nil, fmt.Errorf("violin figure: group %q: %w", g.Label, err)
		}
		vs = append(vs, v)
		names[i] = fmt.Sprintf("%s\nn=%d", displayLabel(g.Label), len(vals))
	}
	p.Add(plotter.NewGrid(), vs)
	p.NominalX(names...)
	padNominalX(p, len(groups))
	if math.IsInf(p.Y.Min, 0) || math.IsInf(p.Y.Max, 0) {
		p.Y.Min, p.Y.Max = 0, 1
	}
	// The violins' ends and outlines stay inside the frame, and the tick
	// labels of a narrow range stay distinct.
	pad := (p.Y.Max - p.Y.Min) * 0.06
	if pad == 0 {
		pad = math.Max(math.Abs(p.Y.Max)*0.01, 0.5)
	}
	p.Y.Min -= pad
	p.Y.Max += pad
	p.Y.Tick.Marker = distinctTicks{}
	caption := "Distribution of instance confidence per category: Gaussian kernel density (Silverman's bandwidth), trimmed to the observed range; solid line median, dashed lines quartiles. Groups with one distinct value show only their marks."
	if dropped > 0 {
		caption += fmt.Sprintf(" %d non-finite values were left out.", dropped)
	}
	return &Figure{Name: NameViolin, Title: "Confidence by category", Caption: caption, plot: p}, nil
}

// seriesPlotters returns the line, points, whiskers and labels of s in
// colour c, and its legend thumbnails.
//
// Series drawn later are drawn thinner, dashed and with smaller markers, so
// that where two series coincide (a line on a line, a point on a point)
// both stay visible; labels of points at (nearly) the same place are joined
// into one multi-line label instead of being printed over each other.
func seriesPlotters(s Series, c color.RGBA, shape int, line bool) ([]plot.Plotter, []plot.Thumbnailer, error) {
	var xys plotter.XYs
	var errs plotter.YErrors
	var lab plotter.XYLabels
	for i, pt := range s.Points {
		if err := checkInterval(fmt.Sprintf("series %q point %d", s.Name, i), pt.Y, pt.Lo, pt.Hi); err != nil {
			return nil, nil, err
		}
		if !finite(pt.X) || !finite(pt.Y) {
			continue
		}
		xys = append(xys, plotter.XY{X: pt.X, Y: pt.Y})
		lo, hi := 0.0, 0.0
		if finite(pt.Lo) && finite(pt.Hi) {
			lo, hi = pt.Y-pt.Lo, pt.Hi-pt.Y
		}
		errs = append(errs, struct{ Low, High float64 }{lo, hi})
		if pt.Label != "" {
			lab.XYs = append(lab.XYs, plotter.XY{X: pt.X, Y: pt.Y})
			lab.Labels = append(lab.Labels, pt.Label)
		}
	}
	if len(xys) == 0 {
		return nil, nil, nil
	}
	var out []plot.Plotter
	var thumbs []plot.Thumbnailer
	if line && len(xys) > 1 {
		l, err := plotter.NewLine(xys)
		if err != nil {
			return nil, nil, err
		}
		l.Color = c
		l.Width = vg.Points(math.Max(3-0.6*float64(shape), 1))
		if shape > 0 {
			l.Dashes = []vg.Length{vg.Points(6), vg.Points(2 + float64(shape))}
		}
		out = append(out, l)
		thumbs = append(thumbs, l)
	}
	sc, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, nil, err
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(math.Max(4.5-0.7*float64(shape), 2)), Shape: glyphShape(shape)}
	out = append(out, sc)
	thumbs = append(thumbs, sc)
	hasErr := false
	for _, e := range errs {
		if e.Low != 0 || e.High != 0 {
			hasErr = true
		}
	}
	if hasErr {
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{xys, errs})
		if err != nil {
			return nil, nil, err
		}
		eb.LineStyle.Color = c
		eb.LineStyle.Width = vg.Points(1)
		out = append(out, eb)
	}
	if len(lab.Labels) > 0 {
		l, err := plotter.NewLabels(joinNearLabels(lab, xys))
		if err != nil {
			return nil, nil, err
		}
		for i := range l.TextStyle {
			l.TextStyle[i].Font = sansSize(7)
		}
		l.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(3)}
		if shape == 0 {
			// The first series' labels go left of their points, the
			// others' right: labels of two series at one point do not
			// overlap.
			l.Offset.X = -vg.Points(4)
			for i := range l.TextStyle {
				l.TextStyle[i].XAlign = draw.XRight
			}
		}
		out = append(out, l)
	}
	return out, thumbs, nil
}

// joinNearLabels joins the labels of points that lie within 2% of the
// series' x and y spans of each other into one multi-line label at the
// first of them, so that they are not printed over each other.
func joinNearLabels(lab plotter.XYLabels, xys plotter.XYs) plotter.XYLabels {
	xmin, xmax, ymin, ymax := plotter.XYRange(xys)
	tx, ty := 0.02*(xmax-xmin), 0.02*(ymax-ymin)
	var out plotter.XYLabels
	for i, at := range lab.XYs {
		j := slices.IndexFunc(out.XYs, func(o plotter.XY) bool {
			return math.Abs(o.X-at.X) <= tx && math.Abs(o.Y-at.Y) <= ty
		})
		if j >= 0 {
			out.Labels[j] += "\n" + lab.Labels[i]
			continue
		}
		out.XYs = append(out.XYs, at)
		out.Labels = append(out.Labels, lab.Labels[i])
	}
	return out
}

// glyphShape returns distinct marker shapes for series.
func glyphShape(i int) draw.GlyphDrawer {
	switch i % 4 {
	case 1:
		return draw.SquareGlyph{}
	case 2:
		return draw.TriangleGlyph{}
	case 3:
		return draw.PyramidGlyph{}
	}
	return draw.CircleGlyph{}
}

// seriesFigure draws series as points (with lines when line is set) and a
// legend strip when there is more than one.
func seriesFigure(p *plot.Plot, series []Series, line bool) (*plot.Legend, error) {
	var leg *plot.Legend
	if len(series) > 1 {
		leg = newLegend()
	}
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, s := range series {
		ps, thumbs, err := seriesPlotters(s, colour(i), i, line)
		if err != nil {
			return nil, err
		}
		if len(ps) == 0 {
			continue
		}
		drawn++
		p.Add(ps...)
		if leg != nil {
			leg.Add(s.Name, thumbs...)
		}
	}
	if drawn == 0 {
		return nil, errNoData
	}
	return leg, nil
}

// TraceCountFigure is the scatter of accuracy (y, with interval whiskers)
// against the number of traces (x): typically one series with a point per
// trace count (the instances that used that many traces), and optionally
// one point per policy (its mean traces and accuracy), labelled.
func TraceCountFigure(series []Series, level float64) (*Figure, error) {
	p := newPlot("Trace count vs accuracy", "traces per instance", "accuracy")
	leg, err := seriesFigure(p, series, false)
	if err != nil {
		return nil, fmt.Errorf("trace-count figure: %w", err)
	}
	unitY(p)
	padX(p)
	return &Figure{
		Name:    NameTraces,
		Title:   "Trace count vs accuracy",
		Caption: fmt.Sprintf("Accuracy of the instances grouped by the number of traces that voted (labels: number of instances), with %s Wilson intervals.", table.Level(level)),
		plot:    p,
		legend:  leg,
	}, nil
}

// padNominalX leaves half a slot of room beside the first and last of n
// nominal positions (0 … n−1), so that bars and violins at the ends do not
// touch the frame and their labels are not cut.
func padNominalX(p *plot.Plot, n int) {
	p.X.Min, p.X.Max = -0.6, float64(n-1)+0.6
}

// distinctTicks are gonum's default ticks with labels given as many
// significant digits as it takes for neighbours to differ (a narrow range
// such as 5.251–5.262 would otherwise read "5.25, 5.26, 5.26").
type distinctTicks struct{}

// Ticks implements plot.Ticker.
func (distinctTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for digits := 3; digits <= 12; digits++ {
		seen := map[string]bool{}
		ok := true
		for i := range ts {
			if ts[i].Label == "" {
				continue
			}
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', digits, 64)
			if seen[ts[i].Label] {
				ok = false
			}
			seen[ts[i].Label] = true
		}
		if ok {
			break
		}
	}
	return ts
}

// padX widens a degenerate or tight x range so that points at its ends are
// not on the frame.
func padX(p *plot.Plot) {
	if math.IsInf(p.X.Min, 0) || math.IsInf(p.X.Max, 0) {
		p.X.Min, p.X.Max = 0, 1
		return
	}
	d := (p.X.Max - p.X.Min) * 0.05
	if d == 0 {
		d = 0.5
	}
	p.X.Min -= d
	p.X.Max += d
}

// ConfusionFigure is the heat map of the 2×2 confusion matrix with counts
// and row shares (share of the harmful or the benign prompts); the colour
// intensity is the row share.
func ConfusionFigure(c Confusion) (*Figure, error) {
	for _, n := range []int{c.TP, c.FN, c.FP, c.TN} {
		if n < 0 {
			return nil, fmt.Errorf("confusion figure: negative count in %+v", c)
		}
	}
	p := newPlot("Confusion matrix", "model behaviour", "prompt (gold label)")
	rowShare := func(k, row int) (float64, string) {
		if row == 0 {
			return 0, "–"
		}
		s := float64(k) / float64(row)
		return s, fmt.Sprintf("%.1f%%", 100*s)
	}
	harmful, benign := c.TP+c.FN, c.FP+c.TN
	type q struct {
		x, y     float64
		name     string
		k, row   int
		good     bool
		rowLabel string
	}
	qs := []q{
		{0, 1, "TP: refused", c.TP, harmful, true, "harmful"},
		{1, 1, "FN: unsafe compliance", c.FN, harmful, false, "harmful"},
		{0, 0, "FP: over-refusal", c.FP, benign, false, "benign"},
		{1, 0, "TN: complied", c.TN, benign, true, "benign"},
	}
	var cs cells
	for _, e := range qs {
		share, s := rowShare(e.k, e.row)
		base := palette[2] // correct: green
		if !e.good {
			base = palette[1] // error: vermillion
		}
		col := mix(color.RGBA{0xF7, 0xF7, 0xF7, 0xFF}, base, 0.15+0.85*share)
		cs = append(cs, cell{X: e.x, Y: e.y, Colour: col, Light: share > 0.55,
			Text: fmt.Sprintf("%s\n%d\n(%s of %s)", e.name, e.k, s, e.rowLabel)})
	}
	p.Add(cs)
	p.NominalX("refused", "complied")
	p.NominalY(fmt.Sprintf("benign\nn=%d", benign), fmt.Sprintf("harmful\nn=%d", harmful))
	p.X.Padding, p.Y.Padding = 0, 0
	return &Figure{
		Name:    NameConfusion,
		Title:   "Confusion matrix",
		Caption: "Harmful prompts are the positive class and refusal the positive prediction. Counts with their share of the row (the prompts of that gold label); green cells are correct, red cells errors, darker for larger shares.",
		plot:    p,
	}, nil
}

// mix returns a + t·(b − a), t in [0, 1].
func mix(a, b color.RGBA, t float64) color.RGBA {
	t = math.Max(0, math.Min(1, t))
	f := func(x, y uint8) uint8 { return uint8(float64(x) + t*(float64(y)-float64(x)) + 0.5) }
	return color.RGBA{f(a.R, b.R), f(a.G, b.G), f(a.B, b.B), 0xFF}
}

// PercentileFigure draws metric curves (rates in [0, 1]) against a
// percentile (x, labelled xlabel), one line per series, such as accuracy,
// refusal rate on harmful prompts and compliance rate on benign prompts
// against the percentile of a confidence filter.
func PercentileFigure(xlabel string, series []Series, caption string) (*Figure, error) {
	p := newPlot("Metrics vs confidence percentile", xlabel, "rate")
	leg, err := seriesFigure(p, series, true)
	if err != nil {
		return nil, fmt.Errorf("percentile figure: %w", err)
	}
	unitY(p)
	padX(p)
	return &Figure{Name: NamePercentile, Title: "Metrics vs confidence percentile", Caption: caption, plot: p, legend: leg}, nil
}

// RiskFigure is the risk curve: the unsafe-compliance rate of the complied
// instances in equal-count bins of confidence (x: the bin's middle
// quantile, low confidence on the left) with the bins' interval band, and
// the overall unsafe-compliance rate as a dashed line (NaN: none).
func RiskFigure(bins []RiskBin, overall, level float64) (*Figure, error) {
	p := newPlot("Risk curve", "confidence quantile of complied instances (low → high)", "unsafe-compliance rate")
	var line plotter.XYs
	var upper, lower plotter.XYs
	var labels plotter.XYLabels
	for i, b := range bins {
		if err := checkInterval(fmt.Sprintf("risk figure: bin %d", i), b.Rate, b.Lo, b.Hi); err != nil {
			return nil, err
		}
		if !(b.QuantileLo >= 0 && b.QuantileHi <= 1 && b.QuantileLo <= b.QuantileHi) {
			return nil, fmt.Errorf("risk figure: bin %d: quantiles [%v, %v] outside [0, 1]", i, b.QuantileLo, b.QuantileHi)
		}
		if !finite(b.Rate) {
			continue
		}
		x := (b.QuantileLo + b.QuantileHi) / 2
		line = append(line, plotter.XY{X: x, Y: b.Rate})
		labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: b.Rate})
		labels.Labels = append(labels.Labels, fmt.Sprintf("n=%d", b.N))
		if finite(b.Lo) && finite(b.Hi) {
			upper = append(upper, plotter.XY{X: x, Y: b.Hi})
			lower = append(lower, plotter.XY{X: x, Y: b.Lo})
		}
	}
	if len(line) == 0 {
		return nil, fmt.Errorf("risk figure: %w", errNoData)
	}
	p.Add(plotter.NewGrid())
	if len(upper) > 1 {
		ring := append(plotter.XYs{}, lower...)
		for i := len(upper) - 1; i >= 0; i-- {
			ring = append(ring, upper[i])
		}
		band, err := plotter.NewPolygon(ring)
		if err != nil {
			return nil, fmt.Errorf("risk figure: %w", err)
		}
		band.Color = fill(palette[1], 0x40)
		band.LineStyle.Width = 0
		p.Add(band)
	}
	if finite(overall) {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: overall}, {X: 1, Y: overall}})
		if err != nil {
			return nil, fmt.Errorf("risk figure: %w", err)
		}
		l.Color = color.Gray{0x60}
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
	}
	ps, _, err := seriesPlotters(Series{Name: "risk", Points: pointsOf(line)}, palette[1], 0, true)
	if err != nil {
		return nil, fmt.Errorf("risk figure: %w", err)
	}
	p.Add(ps...)
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("risk figure: %w", err)
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font = sansSize(7)
	}
	lb.Offset = vg.Point{X: vg.Points(3), Y: vg.Points(4)}
	p.Add(lb)
	p.X.Min, p.X.Max = 0, 1
	unitY(p)
	caption := fmt.Sprintf("Complied instances with a known gold label, ranked by confidence and cut into equal-count bins; each point is a bin's share of harmful prompts (unsafe compliance) with its %s Wilson band.", table.Level(level))
	if finite(overall) {
		caption += fmt.Sprintf(" Dashed line: the overall unsafe-compliance rate (%.3f).", overall)
	}
	caption += " The hypothesis predicts a curve falling from left to right."
	return &Figure{Name: NameRisk, Title: "Risk curve", Caption: caption, plot: p}, nil
}

// pointsOf converts XYs to points without intervals.
func pointsOf(xys plotter.XYs) []Point {
	out := make([]Point, len(xys))
	for i, xy := range xys {
		out[i] = Point{X: xy.X, Y: xy.Y, Lo: math.NaN(), Hi: math.NaN()}
	}
	return out
}

// ComparisonFigure is the grouped bar chart across runs: one group per
// run (groups, e.g. model sizes in order), one bar per series (metrics
// such as accuracy and unsafe-compliance rate) with interval whiskers.
func ComparisonFigure(groups []string, series []BarSeries, level float64) (*Figure, error) {
	if len(groups) == 0 || len(series) == 0 {
		return nil, fmt.Errorf("comparison figure: %w", errNoData)
	}
	p := newPlot("Comparison across runs", "", "rate")
	leg := newLegend()
	w := 0.8 / float64(len(series))
	var bs bars
	for j, s := range series {
		if len(s.Values) != len(groups) {
			return nil, fmt.Errorf("comparison figure: series %q has %d values for %d groups", s.Name, len(s.Values), len(groups))
		}
		c := colour(j)
		for i, e := range s.Values {
			if err := checkInterval(fmt.Sprintf("comparison figure: series %q group %d", s.Name, i), e.Value, e.Lo, e.Hi); err != nil {
				return nil, err
			}
			x := float64(i) - 0.4 + w*(float64(j)+0.5)
			bs = append(bs, bar{X: x, W: w * 0.9, Value: e.Value, Lo: e.Lo, Hi: e.Hi, Colour: c})
		}
		leg.Add(s.Name, swatch{c})
	}
	p.Add(plotter.NewGrid(), bs)
	p.NominalX(groups...)
	unitY(p)
	return &Figure{
		Name:    NameComparison,
		Title:   "Comparison across runs",
		Caption: fmt.Sprintf("Metrics of each run side by side (runs ordered by model size where it is known) with %s Wilson intervals.", table.Level(level)),
		plot:    p,
		legend:  leg,
	}, nil
}
