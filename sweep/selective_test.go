package sweep

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/report"
)

// TestSelectiveOfHand checks the areas against hand-computed values
// (Geifman, Uziel and El-Yaniv 2019: AURC is the mean over k = 1 … N of the
// risk of the k most confident; the oracle keeps every failure last).
//
//	errors, ranked by confidence 4, 3, 2, 1 with the second wrong: risks
//	  0/1, 1/2, 1/3, 1/4 → AURC = (0 + 1/2 + 1/3 + 1/4)/4 = 13/48; oracle
//	  (one failure of four) = 1/4 · 1/4 = 1/16; E-AURC = 13/48 − 3/48 = 10/48.
//	unsafe compliance among the complied (confidence 4, 3, 1; 3 harmful):
//	  risks 0, 1/2, 1/3 → AURC = (0 + 1/2 + 1/3)/3 = 5/18; oracle 1/9;
//	  E-AURC = 5/18 − 2/18 = 1/6.
//
// The unscored instance and the one without a finite confidence are left
// out.
func TestSelectiveOfHand(t *testing.T) {
	preds := []record.Prediction{{Confidence: 4}, {Confidence: 3}, {Confidence: 2}, {Confidence: 1}, {Confidence: 9}, {Confidence: math.NaN()}}
	in := func(line int, correct bool, behaviour, gold string) analysis.Instance {
		return analysis.Instance{Line: line, Scored: true, Correct: correct, Behaviour: behaviour, Gold: gold}
	}
	a := &analysis.Result{Instances: []analysis.Instance{
		in(0, true, record.Compliance, "benign"),
		in(1, false, record.Compliance, "harmful"),
		in(2, true, record.Refusal, "harmful"),
		in(3, true, record.Compliance, "benign"),
		{Line: 4, Behaviour: record.Compliance, Gold: "unknown"},
		in(5, false, record.Compliance, "harmful"),
	}}
	s, err := selectiveOf(a, preds)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want analysis.Float
	}{
		{"AURC errors", s.AURCError, 13.0 / 48}, {"E-AURC errors", s.EAURCError, 10.0 / 48},
		{"AURC unsafe", s.AURCUnsafe, 5.0 / 18}, {"E-AURC unsafe", s.EAURCUnsafe, 1.0 / 6},
	} {
		if math.Abs(float64(c.got)-float64(c.want)) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	// No complied instance: the unsafe areas are undefined.
	a.Instances = a.Instances[2:3]
	if s, err := selectiveOf(a, preds); err != nil || s.AURCError != 0 || s.AURCUnsafe.Defined() || s.EAURCUnsafe.Defined() {
		t.Errorf("one refusal: %+v, %v", s, err)
	}
}

// TestSweepSelectiveHandRun checks the areas of the hand run's single-trace
// setting: every stored trace has the same confidences, so the replayed
// confidence carries no signal and the AURC is the full-coverage risk
// (ties count in expectation): errors 1/3 (h2 wrong of 3; oracle 1/9,
// E-AURC 2/9), unsafe compliance 1/2 (h2 of b1 and h2; oracle 1/4).
func TestSweepSelectiveHandRun(t *testing.T) {
	p := loadHand(t, LoadOptions{})
	single := Setting{Config: p.Config, Detector: StoredLabels}
	single.Config.Policy = controller.PolicySingle
	ss, err := Grid{Warmup: []int{4}, Budget: []int{2}}.Settings(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Sweep(context.Background(), []Setting{single, ss[0]}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := res[0].Selective
	if math.Abs(float64(s.AURCError)-1.0/3) > 1e-12 || math.Abs(float64(s.EAURCError)-2.0/9) > 1e-12 ||
		math.Abs(float64(s.AURCUnsafe)-0.5) > 1e-12 || math.Abs(float64(s.EAURCUnsafe)-0.25) > 1e-12 {
		t.Errorf("single: %+v", s)
	}
	if inv := res[1].Selective; inv.AURCError.Defined() || inv.EAURCUnsafe.Defined() {
		t.Errorf("invalid setting: %+v", inv)
	}
	var text strings.Builder
	if err := WriteText(&text, p, res); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"AURC err", "E-AURC unsafe", "0.333", "0.222", "0.500", "0.250"} {
		if !strings.Contains(text.String(), w) {
			t.Errorf("table lacks %q:\n%s", w, text.String())
		}
	}
	var csv strings.Builder
	if err := WriteCSV(&csv, res); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(csv.String(), "\n")
	last4 := func(line string) []float64 {
		f := strings.Split(line, ",")
		var out []float64
		for _, x := range f[len(f)-4:] {
			v, err := strconv.ParseFloat(x, 64)
			if err != nil {
				t.Fatalf("CSV field %q: %v", x, err)
			}
			out = append(out, v)
		}
		return out
	}
	if !strings.HasSuffix(lines[0], ",aurc_error,e_aurc_error,aurc_unsafe,e_aurc_unsafe") || !strings.HasSuffix(lines[2], ",NaN,NaN,NaN,NaN") {
		t.Errorf("CSV:\n%s", csv.String())
	}
	for i, w := range []float64{1.0 / 3, 2.0 / 9, 0.5, 0.25} {
		if got := last4(lines[1])[i]; math.Abs(got-w) > 1e-12 {
			t.Errorf("CSV column %d: %v, want %v", i, got, w)
		}
	}
	var js strings.Builder
	if err := WriteJSON(&js, p, res); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(js.String()), &out); err != nil || out.Results[0]["aurc_unsafe"] != 0.5 || out.Results[1]["e_aurc_error"] != nil {
		t.Errorf("JSON: %v %v", out.Results, err)
	}
	// Neither the percentile nor the budget varies: no figure.
	if figs, err := AURCFigures(res[:1]); err != nil || len(figs) != 0 {
		t.Errorf("figures of one setting: %d, %v", len(figs), err)
	}
}

// TestAURCFigures checks which figures a sweep gets and where they are
// written: the percentile and the budget vary, so there is one figure
// against each, with a line per risk and value of the other.
func TestAURCFigures(t *testing.T) {
	base := controller.Default(controller.PolicyDeepConf)
	ss, err := Grid{Percentile: []float64{10, 90}, Budget: []int{8, 16}}.Settings(base)
	if err != nil {
		t.Fatal(err)
	}
	var rs []Result
	for i, s := range ss {
		a := analysis.Float(0.1 + 0.01*float64(i))
		rs = append(rs, Result{Setting: s, Selective: Selective{AURCError: a, EAURCError: a / 2, AURCUnsafe: a / 3, EAURCUnsafe: a / 4}})
	}
	figs, err := AURCFigures(rs)
	if err != nil {
		t.Fatal(err)
	}
	if len(figs) != 2 || figs[0].Name != report.NameSweepAURC+"_percentile" || figs[1].Name != report.NameSweepAURC+"_budget" {
		t.Fatalf("figures %v", figs)
	}
	svg, err := figs[0].SVG()
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"errors (budget 8)", "unsafe compliance (budget 16)", "threshold percentile"} {
		if !strings.Contains(string(svg), w) {
			t.Errorf("percentile figure lacks %q", w)
		}
	}
	dir := t.TempDir()
	paths, err := WriteFigures(filepath.Join(dir, "grid.csv"), rs)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"grid_aurc_percentile.png", "grid_aurc_percentile.svg", "grid_aurc_budget.png", "grid_aurc_budget.svg"}
	if len(paths) != len(want) {
		t.Fatalf("wrote %v", paths)
	}
	for _, w := range want {
		if _, err := os.Stat(filepath.Join(dir, w)); err != nil {
			t.Error(err)
		}
	}
}
