package sweep

import (
	"cmp"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"github.com/deepconf/deepconf/report"
)

// sweptAxis is a setting the AURC figures can put on the x axis.
type sweptAxis struct {
	column, key, label string
	x                  func(s Setting) float64
}

// sweptAxes are the percentile and the budget.
var sweptAxes = []sweptAxis{
	{"pctl", "percentile", "threshold percentile p (η = 1 − p/100)", Setting.Percentile},
	{"budget", "budget", "budget (most traces per instance)", func(s Setting) float64 { return float64(s.Budget()) }},
}

// AURCFigures returns the figures of how selective prediction by the
// replayed confidence moves with the percentile and with the budget, each
// when the sweep varies it: AURC (y) against the setting (x), one line for
// errors and one for unsafe compliance per combination of the other
// settings that vary. A sweep that varies neither has no figure.
func AURCFigures(rs []Result) ([]*report.Figure, error) {
	settings := make([]Setting, len(rs))
	for i, r := range rs {
		settings[i] = r.Setting
	}
	var varied []column
	for _, c := range columns() {
		for _, s := range settings {
			if c.value(s) != c.value(settings[0]) {
				varied = append(varied, c)
				break
			}
		}
	}
	var figs []*report.Figure
	for _, ax := range sweptAxes {
		k := slices.IndexFunc(varied, func(c column) bool { return c.name == ax.column })
		if k < 0 {
			continue
		}
		col := varied[k]
		type group struct {
			name        string
			err, unsafe report.Series
			drawn       bool
		}
		var groups []*group
		for _, r := range rs {
			s := r.Setting
			if s.Err != nil {
				continue
			}
			if col.value(s) == "–" {
				continue // the policy has no such setting
			}
			var parts []string
			for _, c := range varied {
				if c.name != ax.column {
					parts = append(parts, c.name+" "+c.value(s))
				}
			}
			name := strings.Join(parts, ", ")
			i := slices.IndexFunc(groups, func(g *group) bool { return g.name == name })
			if i < 0 {
				suffix := ""
				if name != "" {
					suffix = " (" + name + ")"
				}
				groups = append(groups, &group{name: name, err: report.Series{Name: "errors" + suffix},
					unsafe: report.Series{Name: "unsafe compliance" + suffix}})
				i = len(groups) - 1
			}
			g, x, nan := groups[i], ax.x(s), math.NaN()
			g.err.Points = append(g.err.Points, report.Point{X: x, Y: float64(r.Selective.AURCError), Lo: nan, Hi: nan, N: r.Metrics.Correct.N})
			g.unsafe.Points = append(g.unsafe.Points, report.Point{X: x, Y: float64(r.Selective.AURCUnsafe), Lo: nan, Hi: nan})
			g.drawn = g.drawn || r.Selective.AURCError.Defined() || r.Selective.AURCUnsafe.Defined()
		}
		var series []report.Series
		for _, g := range groups {
			if !g.drawn {
				continue
			}
			for _, s := range []report.Series{g.err, g.unsafe} {
				slices.SortStableFunc(s.Points, func(a, b report.Point) int { return cmp.Compare(a.X, b.X) })
				series = append(series, s)
			}
		}
		if len(series) == 0 {
			continue
		}
		f, err := report.SweepAURCFigure(ax.key, ax.label, series)
		if err != nil {
			return nil, err
		}
		figs = append(figs, f)
	}
	return figs, nil
}

// WriteFigures writes the AURCFigures of rs as PNG and SVG next to the
// sweep's output file path: FILE.csv gets FILE_aurc_percentile.png and
// .svg, and FILE_aurc_budget.png and .svg. It returns the paths written
// (none when the sweep varies neither the percentile nor the budget).
func WriteFigures(path string, rs []Result) ([]string, error) {
	figs, err := AURCFigures(rs)
	if err != nil || len(figs) == 0 {
		return nil, err
	}
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	for _, f := range figs {
		f.Name = stem + "_" + f.Name
	}
	return report.WriteFigures(filepath.Dir(path), figs)
}
