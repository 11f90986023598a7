package report

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/deepconf/deepconf/internal/atomicfile"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure sizes and resolution. A PNG is Width·DPI × Height·DPI pixels
// (900 × 600).
const (
	Width  = 6 * vg.Inch
	Height = 4 * vg.Inch
	DPI    = 150
)

// PixelSize returns the size in pixels of a figure's PNG.
func PixelSize() (w, h int) {
	wi, hi := float64(Width/vg.Inch), float64(Height/vg.Inch)
	return int(math.Round(wi * DPI)), int(math.Round(hi * DPI))
}

// Figure is a chart ready to be written as PNG or SVG. Rendering is
// deterministic: the same input gives the same bytes (the fonts are the
// Liberation fonts embedded in gonum.org/v1/plot; no system font, clock or
// random source is consulted).
type Figure struct {
	// Name is the file name without extension, e.g.
	// "accuracy_by_category".
	Name string
	// Title is a short title (the HTML heading and alt text); Caption
	// explains how to read the figure.
	Title   string
	Caption string

	plot *plot.Plot
	// legend, when set, is drawn in a strip at the right of the plot
	// rather than over the data.
	legend *plot.Legend
	// png holds the encoded PNG once rendered: the figure file and the
	// report's embedded image are the same bytes, rendered once.
	png []byte
}

// draw renders f onto c.
func (f *Figure) draw(c draw.Canvas) {
	if f.legend == nil {
		f.plot.Draw(c)
		return
	}
	r := f.legend.Rectangle(c)
	lw := r.Max.X - r.Min.X + 8
	f.plot.Draw(draw.Crop(c, 0, -lw, 0, 0))
	title := vg.Length(0)
	if f.plot.Title.Text != "" {
		title = f.plot.Title.TextStyle.Rectangle(f.plot.Title.Text).Size().Y + f.plot.Title.Padding
	}
	f.legend.Draw(draw.Crop(c, c.Max.X-c.Min.X-lw+4, 0, 0, -title-8))
}

// WritePNG writes f as a PNG image of PixelSize pixels.
func (f *Figure) WritePNG(w io.Writer) error {
	b, err := f.PNG()
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("figure %s: write PNG: %w", f.Name, err)
	}
	return nil
}

// WriteSVG writes f as an SVG document. The text names the font family
// "Liberation Sans"; a viewer without it substitutes a similar font.
func (f *Figure) WriteSVG(w io.Writer) error {
	c := vgsvg.New(Width, Height)
	f.draw(draw.New(c))
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("figure %s: write SVG: %w", f.Name, err)
	}
	return nil
}

// PNG returns f as PNG bytes, rendered on the first call. The caller must
// not modify them.
func (f *Figure) PNG() ([]byte, error) {
	if f.png == nil {
		c := vgimg.NewWith(vgimg.UseWH(Width, Height), vgimg.UseDPI(DPI))
		f.draw(draw.New(c))
		var b bytes.Buffer
		if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&b); err != nil {
			return nil, fmt.Errorf("figure %s: render PNG: %w", f.Name, err)
		}
		f.png = b.Bytes()
	}
	return f.png, nil
}

// SVG returns f as SVG bytes.
func (f *Figure) SVG() ([]byte, error) {
	var b bytes.Buffer
	err := f.WriteSVG(&b)
	return b.Bytes(), err
}

// WriteFiles writes dir/Name.png and dir/Name.svg, creating dir, each
// replaced atomically (internal/atomicfile), and returns their paths.
func (f *Figure) WriteFiles(dir string) (pngPath, svgPath string, err error) {
	if f.Name == "" || f.Name != filepath.Base(f.Name) {
		return "", "", fmt.Errorf("figure name %q: want a plain file name", f.Name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("figures: %w", err)
	}
	pngPath = filepath.Join(dir, f.Name+".png")
	svgPath = filepath.Join(dir, f.Name+".svg")
	if err := atomicfile.Write(pngPath, f.WritePNG); err != nil {
		return "", "", err
	}
	if err := atomicfile.Write(svgPath, f.WriteSVG); err != nil {
		return "", "", err
	}
	return pngPath, svgPath, nil
}

// WriteFigures writes every figure's PNG and SVG into dir and returns the
// paths written.
func WriteFigures(dir string, figs []*Figure) ([]string, error) {
	var paths []string
	seen := map[string]bool{}
	for _, f := range figs {
		if seen[f.Name] {
			return paths, fmt.Errorf("figures: two figures named %q", f.Name)
		}
		seen[f.Name] = true
		p, s, err := f.WriteFiles(dir)
		if err != nil {
			return paths, err
		}
		paths = append(paths, p, s)
	}
	return paths, nil
}

// sans is the figures' typeface: Liberation Sans, embedded in gonum/plot.
var sans = font.Font{Typeface: "Liberation", Variant: "Sans"}

// newPlot returns a plot with the figures' fonts and labels.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = font.From(sans, 12)
	p.Title.Padding = 6
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = font.From(sans, 10)
		a.Tick.Label.Font = font.From(sans, 8)
	}
	p.Legend.TextStyle.Font = font.From(sans, 8)
	return p
}

// newLegend returns a legend with the figures' font, for a Figure's right
// strip.
func newLegend() *plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = font.From(sans, 8)
	l.Top = true
	l.Left = true
	l.ThumbnailWidth = vg.Points(14)
	l.Padding = vg.Points(3)
	return &l
}

// Colours: the Okabe–Ito colour-blind-safe palette.
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0xF0, 0xE4, 0x42, 0xFF}, // yellow
	{0x00, 0x00, 0x00, 0xFF}, // black
}

// colour returns the i-th palette colour, cycling.
func colour(i int) color.RGBA { return palette[i%len(palette)] }

// categoryColours follows the colours the prototype's figures gave each
// category (confident refusal blue, confident compliance green, uncertain
// refusal orange, uncertain compliance red), in Okabe–Ito shades.
var categoryColours = map[string]color.RGBA{
	"confident_refusal":    palette[0],
	"uncertain_compliance": palette[1],
	"uncertain_refusal":    palette[3],
	"confident_compliance": palette[2],
}

// fill returns c with alpha a (0–255), premultiplied as image/color
// requires.
func fill(c color.RGBA, a uint8) color.RGBA {
	f := float64(a) / 255
	return color.RGBA{uint8(float64(c.R)*f + 0.5), uint8(float64(c.G)*f + 0.5), uint8(float64(c.B)*f + 0.5), a}
}

var errNoData = errors.New("no data")

// sansSize returns the figures' typeface at size points.
func sansSize(size float64) font.Font { return font.From(sans, vg.Points(size)) }
