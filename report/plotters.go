package report

import (
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// This file holds the custom plotters: bars with interval whiskers in data
// coordinates (gonum's BarChart offsets grouped bars in screen units, which
// whiskers cannot follow), violins, and heat-map cells with text.

// bar is one bar: centre X, width W (data units), height Value, and the
// interval [Lo, Hi] (NaN: no whisker).
type bar struct {
	X, W, Value, Lo, Hi float64
	Colour              color.Color
}

// bars draws bars from 0 to their value with interval whiskers.
type bars []bar

// Plot implements plot.Plotter.
func (bs bars) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	edge := draw.LineStyle{Color: color.Gray{0x40}, Width: vg.Points(0.5)}
	whisker := draw.LineStyle{Color: color.Black, Width: vg.Points(1)}
	for _, b := range bs {
		if !finite(b.Value) {
			continue
		}
		x0, x1 := trX(b.X-b.W/2), trX(b.X+b.W/2)
		y0, y1 := trY(0), trY(b.Value)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x0, Y: y1}, {X: x1, Y: y1}, {X: x1, Y: y0}}
		c.FillPolygon(b.Colour, c.ClipPolygonXY(pts))
		c.StrokeLines(edge, c.ClipLinesXY(append(pts, pts[0]))...)
		if finite(b.Lo) && finite(b.Hi) {
			xm := trX(b.X)
			cap := (x1 - x0) / 4
			lo, hi := trY(b.Lo), trY(b.Hi)
			c.StrokeLines(whisker, c.ClipLinesXY(
				[]vg.Point{{X: xm, Y: lo}, {X: xm, Y: hi}},
				[]vg.Point{{X: xm - cap, Y: lo}, {X: xm + cap, Y: lo}},
				[]vg.Point{{X: xm - cap, Y: hi}, {X: xm + cap, Y: hi}})...)
		}
	}
}

// DataRange implements plot.DataRanger.
func (bs bars) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), 0, 0
	for _, b := range bs {
		xmin = math.Min(xmin, b.X-b.W/2)
		xmax = math.Max(xmax, b.X+b.W/2)
		for _, y := range []float64{b.Value, b.Lo, b.Hi} {
			if finite(y) {
				ymin, ymax = math.Min(ymin, y), math.Max(ymax, y)
			}
		}
	}
	return xmin, xmax, ymin, ymax
}

// swatch is a legend thumbnail: a filled square.
type swatch struct{ colour color.Color }

// Thumbnail implements plot.Thumbnailer.
func (s swatch) Thumbnail(c *draw.Canvas) {
	pts := []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Min.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Max.X, Y: c.Min.Y}}
	c.FillPolygon(s.colour, pts)
}

// violin is one violin: a density (Dens at the ordinates Ys, scaled so
// that its maximum is HalfWidth data units) mirrored about X, with the
// quartiles marked. Ys is empty when the values do not support a density
// (fewer than two distinct values); the quartile marks are then drawn alone.
type violin struct {
	X, HalfWidth float64
	Ys, Dens     []float64
	Q1, Med, Q3  float64
	Min, Max     float64
	N            int
	Colour       color.RGBA
}

// violins draws violins.
type violins []violin

// widthAt returns the violin's half-width (data units) at ordinate y by
// linear interpolation of its density; outside its range it is 0, and a
// violin without density has a fixed half-width for its marks.
func (v violin) widthAt(y float64) float64 {
	if len(v.Ys) < 2 {
		return v.HalfWidth / 2
	}
	if y < v.Ys[0] || y > v.Ys[len(v.Ys)-1] {
		return 0
	}
	for i := 1; i < len(v.Ys); i++ {
		if y <= v.Ys[i] {
			t := (y - v.Ys[i-1]) / (v.Ys[i] - v.Ys[i-1])
			return v.Dens[i-1] + t*(v.Dens[i]-v.Dens[i-1])
		}
	}
	return v.Dens[len(v.Dens)-1]
}

// Plot implements plot.Plotter.
func (vs violins) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	outline := draw.LineStyle{Color: color.Gray{0x30}, Width: vg.Points(0.75)}
	median := draw.LineStyle{Color: color.Black, Width: vg.Points(1.5)}
	quart := draw.LineStyle{Color: color.Black, Width: vg.Points(0.75), Dashes: []vg.Length{vg.Points(3), vg.Points(2)}}
	for _, v := range vs {
		if v.N == 0 {
			continue
		}
		if len(v.Ys) >= 2 {
			pts := make([]vg.Point, 0, 2*len(v.Ys))
			for i, y := range v.Ys {
				pts = append(pts, vg.Point{X: trX(v.X - v.Dens[i]), Y: trY(y)})
			}
			for i := len(v.Ys) - 1; i >= 0; i-- {
				pts = append(pts, vg.Point{X: trX(v.X + v.Dens[i]), Y: trY(v.Ys[i])})
			}
			c.FillPolygon(fill(v.Colour, 0x80), c.ClipPolygonXY(pts))
			c.StrokeLines(outline, c.ClipLinesXY(append(pts, pts[0]))...)
		}
		for _, m := range []struct {
			y   float64
			sty draw.LineStyle
		}{{v.Q1, quart}, {v.Med, median}, {v.Q3, quart}} {
			w := v.widthAt(m.y)
			if w <= 0 {
				w = v.HalfWidth / 4
			}
			c.StrokeLines(m.sty, c.ClipLinesXY([]vg.Point{{X: trX(v.X - w), Y: trY(m.y)}, {X: trX(v.X + w), Y: trY(m.y)}})...)
		}
	}
}

// DataRange implements plot.DataRanger.
func (vs violins) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		xmin = math.Min(xmin, v.X-v.HalfWidth)
		xmax = math.Max(xmax, v.X+v.HalfWidth)
		if v.N > 0 {
			ymin, ymax = math.Min(ymin, v.Min), math.Max(ymax, v.Max)
		}
	}
	return xmin, xmax, ymin, ymax
}

// cell is one heat-map cell centred at (X, Y) with unit size.
type cell struct {
	X, Y   float64
	Colour color.Color
	Text   string
	// Light selects white text on a dark cell.
	Light bool
}

// cells draws unit cells with centred text.
type cells []cell

// Plot implements plot.Plotter.
func (cs cells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	sty := text.Style{
		Font:    font.From(sans, 11),
		XAlign:  draw.XCenter,
		YAlign:  draw.YCenter,
		Handler: p.TextHandler,
	}
	for _, e := range cs {
		x0, x1 := trX(e.X-0.5), trX(e.X+0.5)
		y0, y1 := trY(e.Y-0.5), trY(e.Y+0.5)
		pts := []vg.Point{{X: x0, Y: y0}, {X: x0, Y: y1}, {X: x1, Y: y1}, {X: x1, Y: y0}}
		c.FillPolygon(e.Colour, pts)
		c.StrokeLines(draw.LineStyle{Color: color.White, Width: vg.Points(2)}, append(pts, pts[0]))
		sty.Color = color.Black
		if e.Light {
			sty.Color = color.White
		}
		c.FillText(sty, vg.Point{X: (x0 + x1) / 2, Y: (y0 + y1) / 2}, e.Text)
	}
}

// DataRange implements plot.DataRanger.
func (cs cells) DataRange() (xmin, xmax, ymin, ymax float64) {
	xmin, xmax, ymin, ymax = math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, e := range cs {
		xmin, xmax = math.Min(xmin, e.X-0.5), math.Max(xmax, e.X+0.5)
		ymin, ymax = math.Min(ymin, e.Y-0.5), math.Max(ymax, e.Y+0.5)
	}
	return xmin, xmax, ymin, ymax
}

// finite reports whether x is neither NaN nor ±Inf.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
