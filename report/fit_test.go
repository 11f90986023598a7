package report

import (
	"math"
	"testing"

	"gonum.org/v1/plot/plotter"
)

// TestFiguresFitFrames: violins and bars at the ends of their axes stay
// inside the frame with room to spare, the tick labels of a narrow range
// are distinct, and labels of coinciding points are joined.
func TestFiguresFitFrames(t *testing.T) {
	vals := []float64{5.2510, 5.2530, 5.2561, 5.2570, 5.2590, 5.2621}
	f, err := ViolinFigure([]Group{{Label: "a", Values: vals}, {Label: "b", Values: []float64{5.255, 5.256, 5.2612}}}, "confidence")
	if err != nil {
		t.Fatal(err)
	}
	p := f.plot
	if !(p.Y.Min < 5.2510 && p.Y.Max > 5.2621) {
		t.Errorf("y range [%v, %v] clips the violins' ends [5.2510, 5.2621]", p.Y.Min, p.Y.Max)
	}
	if !(p.X.Min < -0.4-0.1 && p.X.Max > 1+0.4+0.1) {
		t.Errorf("x range [%v, %v] leaves no room beside the violins", p.X.Min, p.X.Max)
	}
	seen := map[string]bool{}
	for _, tk := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		if tk.Label == "" {
			continue
		}
		if seen[tk.Label] {
			t.Errorf("tick label %q repeats", tk.Label)
		}
		seen[tk.Label] = true
	}
	a, err := AccuracyFigure([]Estimate{{Label: "a", Value: 0.5, Lo: 0.4, Hi: 0.6, N: 10}, {Label: "b", Value: 1, Lo: 0.8, Hi: 1, N: 10}}, 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if !(a.plot.X.Min < -0.3-0.1 && a.plot.X.Max > 1+0.3+0.1) {
		t.Errorf("bars: x range [%v, %v]", a.plot.X.Min, a.plot.X.Max)
	}
	lab := plotter.XYLabels{XYs: plotter.XYs{{X: 4, Y: 0.58}, {X: 4.01, Y: 0.581}, {X: 1, Y: 0.58}}, Labels: []string{"fixed-4", "offline", "single"}}
	got := joinNearLabels(lab, plotter.XYs{{X: 1, Y: 0}, {X: 4, Y: 1}})
	if len(got.Labels) != 2 || got.Labels[0] != "fixed-4\noffline" || got.Labels[1] != "single" || math.Abs(got.XYs[0].X-4) > 0 {
		t.Errorf("joined labels %q at %v", got.Labels, got.XYs)
	}
}
