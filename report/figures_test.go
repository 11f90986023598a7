package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/deepconf/deepconf/stats"
)

// sampleFigures builds one of every figure from fixed data.
func sampleFigures(t testing.TB) []*Figure {
	t.Helper()
	nan := math.NaN()
	acc, err := AccuracyFigure([]Estimate{
		{Label: "confident_refusal", Value: 0.8, Lo: 0.7, Hi: 0.87, N: 60},
		{Label: "uncertain_compliance", Value: 0.55, Lo: 0.41, Hi: 0.68, N: 45},
		{Label: "uncertain_refusal", Value: nan, Lo: nan, Hi: nan, N: 0},
		{Label: "confident_compliance", Value: 0.9, Lo: 0.8, Hi: 0.95, N: 70},
	}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	vio, err := ViolinFigure([]Group{
		{Label: "confident_refusal", Values: []float64{14.1, 15.2, 15.9, 16.4, 17.0, 17.2, 18.8}},
		{Label: "uncertain_compliance", Values: []float64{8.0, 9.5, 9.9, 10.2, 11.7, math.NaN()}},
		{Label: "uncertain_refusal", Values: []float64{12}},
		{Label: "confident_compliance", Values: nil},
	}, "confidence (lowest group)")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := TraceCountFigure([]Series{
		{Name: "instances by traces used", Points: []Point{
			{X: 3, Y: 0.7, Lo: 0.6, Hi: 0.78, N: 80, Label: "n=80"},
			{X: 6, Y: 0.62, Lo: 0.5, Hi: 0.73, N: 50, Label: "n=50"},
			{X: 10, Y: 0.5, Lo: 0.3, Hi: 0.7, N: 20, Label: "n=20"},
		}},
		{Name: "policies", Points: []Point{
			{X: 1, Y: 0.6, Lo: nan, Hi: nan, Label: "single"},
			{X: 8, Y: 0.66, Lo: nan, Hi: nan, Label: "majority-8"},
		}},
	}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := ConfusionFigure(Confusion{TP: 40, FN: 10, FP: 5, TN: 45})
	if err != nil {
		t.Fatal(err)
	}
	var acc2, rec, spec []Point
	for i, pc := range []float64{0, 10, 25, 50, 75, 90} {
		acc2 = append(acc2, Point{X: pc, Y: 0.7 + 0.01*float64(i), Lo: nan, Hi: nan})
		rec = append(rec, Point{X: pc, Y: 0.6 + 0.02*float64(i), Lo: nan, Hi: nan})
		spec = append(spec, Point{X: pc, Y: 0.9 - 0.02*float64(i), Lo: nan, Hi: nan})
	}
	pf, err := PercentileFigure("percentile of trace confidence filtered out", []Series{
		{Name: "accuracy", Points: acc2}, {Name: "refusal rate (harmful)", Points: rec}, {Name: "compliance rate (benign)", Points: spec},
	}, "test caption")
	if err != nil {
		t.Fatal(err)
	}
	rf, err := RiskFigure([]RiskBin{
		{0, 0.25, 0.5, 0.3, 0.7, 20},
		{0.25, 0.5, 0.35, 0.18, 0.57, 20},
		{0.5, 0.75, 0.2, 0.08, 0.42, 20},
		{0.75, 1, 0.1, 0.03, 0.3, 20},
	}, 0.2875, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := ComparisonFigure([]string{"Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B"}, []BarSeries{
		{Name: "accuracy", Values: []Estimate{{Value: 0.6, Lo: 0.55, Hi: 0.65}, {Value: 0.7, Lo: 0.65, Hi: 0.75}, {Value: 0.8, Lo: 0.76, Hi: 0.84}}},
		{Name: "unsafe compliance", Values: []Estimate{{Value: 0.3, Lo: 0.25, Hi: 0.35}, {Value: 0.2, Lo: 0.16, Hi: 0.24}, {Value: nan, Lo: nan, Hi: nan}}},
	}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	return []*Figure{acc, vio, tc, cm, pf, rf, cf}
}

func TestFiguresWritten(t *testing.T) {
	dir := t.TempDir()
	if d := os.Getenv("DEEPCONF_FIGURES_DIR"); d != "" {
		dir = d // keep the files to look at them
	}
	figs := append(sampleFigures(t), sampleCalibrationFigures(t)...)
	paths, err := WriteFigures(dir, figs)
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2*len(figs) {
		t.Fatalf("wrote %d files, want %d", len(paths), 2*len(figs))
	}
	wantW, wantH := PixelSize()
	if wantW != 900 || wantH != 600 {
		t.Fatalf("PixelSize = %d×%d, want 900×600 (6×4 in at 150 dpi)", wantW, wantH)
	}
	for _, f := range figs {
		b, err := os.ReadFile(filepath.Join(dir, f.Name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s.png: %v", f.Name, err)
		}
		if s := img.Bounds().Size(); s.X != wantW || s.Y != wantH {
			t.Errorf("%s.png is %v, want %d×%d", f.Name, s, wantW, wantH)
		}
		b, err = os.ReadFile(filepath.Join(dir, f.Name+".svg"))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) < 1000 {
			t.Errorf("%s.svg has only %d bytes", f.Name, len(b))
		}
		checkSVG(t, f.Name, b)
	}
}

// checkSVG parses b as XML and checks that its root is an svg element with
// text in it.
func checkSVG(t *testing.T, name string, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root, texts := "", 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s.svg: %v", name, err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			if se.Name.Local == "text" {
				texts++
			}
		}
	}
	if root != "svg" || texts == 0 {
		t.Errorf("%s.svg: root %q with %d text elements", name, root, texts)
	}
}

func TestFiguresDeterministic(t *testing.T) {
	a := append(sampleFigures(t), sampleCalibrationFigures(t)...)
	b := append(sampleFigures(t), sampleCalibrationFigures(t)...)
	for i := range a {
		for _, enc := range []struct {
			ext string
			fn  func(*Figure) ([]byte, error)
		}{{"png", (*Figure).PNG}, {"svg", (*Figure).SVG}} {
			x, err := enc.fn(a[i])
			if err != nil {
				t.Fatal(err)
			}
			y, err := enc.fn(b[i])
			if err != nil {
				t.Fatal(err)
			}
			// Rendering the same figure twice must not change it either.
			z, err := enc.fn(a[i])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(x, y) || !bytes.Equal(x, z) {
				t.Errorf("%s.%s differs between renderings", a[i].Name, enc.ext)
			}
		}
	}
}

func TestFigureErrors(t *testing.T) {
	nan := math.NaN()
	cases := map[string]func() error{
		"no categories": func() error { _, err := AccuracyFigure(nil, 0.95); return err },
		"reversed interval": func() error {
			_, err := AccuracyFigure([]Estimate{{Label: "a", Value: 0.5, Lo: 0.6, Hi: 0.4}}, 0.95)
			return err
		},
		"infinite value": func() error {
			_, err := AccuracyFigure([]Estimate{{Label: "a", Value: math.Inf(1), Lo: nan, Hi: nan}}, 0.95)
			return err
		},
		"no groups": func() error { _, err := ViolinFigure(nil, "c"); return err },
		"no points": func() error { _, err := TraceCountFigure([]Series{{Name: "x"}}, 0.95); return err },
		"negative":  func() error { _, err := ConfusionFigure(Confusion{TP: -1}); return err },
		"no bins":   func() error { _, err := RiskFigure(nil, nan, 0.95); return err },
		"bad quantile": func() error {
			_, err := RiskFigure([]RiskBin{{QuantileLo: 0.5, QuantileHi: 1.5, Rate: 0.1}}, nan, 0.95)
			return err
		},
		"ragged series": func() error {
			_, err := ComparisonFigure([]string{"a", "b"}, []BarSeries{{Name: "s", Values: []Estimate{{Value: 1}}}}, 0.95)
			return err
		},
		"bad name": func() error { _, _, err := (&Figure{Name: "../x"}).WriteFiles(t.TempDir()); return err },
	}
	for name, fn := range cases {
		if err := fn(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestViolinShape(t *testing.T) {
	v, err := newViolin([]float64{1, 2, 3, 4, 5}, 2, 0.4, palette[0])
	if err != nil {
		t.Fatal(err)
	}
	// Quartiles of 1..5 (type 7): 2, 3, 4.
	if v.Q1 != 2 || v.Med != 3 || v.Q3 != 4 || v.Min != 1 || v.Max != 5 {
		t.Errorf("marks %v %v %v range [%v, %v]", v.Q1, v.Med, v.Q3, v.Min, v.Max)
	}
	if len(v.Ys) != violinPoints || v.Ys[0] != 1 || v.Ys[violinPoints-1] != 5 {
		t.Fatalf("ordinates %d from %v", len(v.Ys), v.Ys[:1])
	}
	peak := 0.0
	for i, d := range v.Dens {
		peak = math.Max(peak, d)
		// Symmetric data give a symmetric density.
		if j := len(v.Dens) - 1 - i; !near(d, v.Dens[j], 1e-12) {
			t.Fatalf("density not symmetric at %d: %v vs %v", i, d, v.Dens[j])
		}
	}
	if !near(peak, 0.4, 1e-15) {
		t.Errorf("peak half-width %v, want 0.4", peak)
	}
	// The widths are the KDE scaled: ratios between ordinates agree.
	h, _ := stats.SilvermanBandwidth([]float64{1, 2, 3, 4, 5})
	f, _ := stats.GaussianKDE([]float64{1, 2, 3, 4, 5}, h, []float64{v.Ys[0], v.Ys[40], v.Ys[63]})
	if got, want := v.Dens[0]/v.Dens[63], f[0]/f[2]; !near(got, want, 1e-12) {
		t.Errorf("width ratio ends/centre %v, want %v", got, want)
	}
	if got, want := v.widthAt(v.Ys[40])/v.Dens[63], f[1]/f[2]; !near(got, want, 1e-12) {
		t.Errorf("width ratio at ordinate 40 %v, want %v", got, want)
	}
	if w := v.widthAt(6); w != 0 {
		t.Errorf("width outside the data %v, want 0", w)
	}

	// One distinct value: marks only.
	v, err = newViolin([]float64{7, 7}, 0, 0.4, palette[0])
	if err != nil || v.Ys != nil || v.Med != 7 {
		t.Errorf("constant group: %+v, %v", v, err)
	}
}

// near reports whether got is within a relative tolerance of want.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}
