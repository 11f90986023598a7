package sweep

import (
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
)

func TestGridSettings(t *testing.T) {
	base := controller.Default(controller.PolicyDeepConf) // window 16 = min tokens 16, warm-up 4, budget 16, min voters 4
	ss, err := Grid{Percentile: []float64{10, 50}, Window: []int{8, 32}, Budget: []int{3, 8}}.Settings(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 8 {
		t.Fatalf("%d settings, want 8", len(ss))
	}
	// Odometer order: the last dimension varies fastest.
	want := []struct {
		keep         float64
		window, bud  int
		minVot, minT int
		invalid      bool
	}{
		{0.9, 8, 3, 3, 8, true}, {0.9, 8, 8, 4, 8, false}, {0.9, 32, 3, 3, 32, true}, {0.9, 32, 8, 4, 32, false},
		{0.5, 8, 3, 3, 8, true}, {0.5, 8, 8, 4, 8, false}, {0.5, 32, 3, 3, 32, true}, {0.5, 32, 8, 4, 32, false},
	}
	for i, s := range ss {
		w := want[i]
		c := s.Config
		if c.Keep != w.keep || c.Window != w.window || c.Budget != w.bud || c.MinVoters != w.minVot || c.MinTokens != w.minT || (s.Err != nil) != w.invalid {
			t.Errorf("setting %d: %s err %v, want %+v", i, s, s.Err, w)
		}
		if s.Detector != StoredLabels || s.Split.Method != analysis.SplitMedian {
			t.Errorf("setting %d: detector %q split %v", i, s.Detector, s.Split)
		}
	}
	if !strings.Contains(ss[0].Err.Error(), "budget 3: must be ≥ warmup 4") {
		t.Errorf("invalid setting error: %v", ss[0].Err)
	}
	if p := ss[4].Percentile(); p != 50 {
		t.Errorf("percentile %v", p)
	}
}

func TestGridPolicyMapping(t *testing.T) {
	base := controller.Default(controller.PolicyDeepConf)
	base.MinTokens = 20 // not equal to the window: kept, raised to a larger window
	ss, err := Grid{
		Policy:     []string{controller.PolicyPrototype, controller.PolicyFixed, controller.PolicyDeepConf},
		Percentile: []float64{20}, Warmup: []int{3}, Budget: []int{6}, Window: []int{8, 32},
	}.Settings(base)
	if err != nil {
		t.Fatal(err)
	}
	// seed: the window does not matter to the policy but is a distinct
	// configuration; fixed: percentile and warm-up do not apply.
	if len(ss) != 6 {
		t.Fatalf("%d settings: %v", len(ss), ss)
	}
	seed := ss[0].Config
	if seed.PrototypePercentile != 20 || seed.PrototypeMinTraces != 3 || seed.PrototypeMaxTraces != 6 || seed.Keep != base.Keep || ss[0].Budget() != 6 || ss[0].Warmup() != 3 {
		t.Errorf("seed mapping: %+v", seed)
	}
	fixed := ss[2].Config
	if fixed.Traces != 6 || ss[2].Warmup() != 0 || ss[2].Budget() != 6 {
		t.Errorf("fixed mapping: %+v", fixed)
	}
	dc := ss[4].Config
	if dc.Keep != 0.8 || dc.Warmup != 3 || dc.Budget != 6 || dc.MinTokens != 20 || ss[5].Config.MinTokens != 32 {
		t.Errorf("deepconf mapping: %+v / min tokens %d", dc, ss[5].Config.MinTokens)
	}
	// Identical combinations are listed once: single ignores every
	// dimension below.
	ss, err = Grid{Policy: []string{controller.PolicySingle}, Tau: []float64{0.5, 0.9}}.Settings(controller.Default(controller.PolicySingle))
	if err != nil || len(ss) != 2 {
		t.Errorf("single × τ: %d settings, %v", len(ss), err)
	}
	ss, err = Grid{Detector: []string{"stored", "patterns"}, Split: []analysis.Split{{Method: analysis.SplitMedian}, {Method: analysis.SplitValue, Value: 3}}}.Settings(base)
	if err != nil || len(ss) != 4 || ss[3].Detector != "patterns" || ss[3].Split.Value != 3 {
		t.Errorf("detector × split: %v, %v", ss, err)
	}
	cols := settingColumns(ss)
	var names []string
	for _, c := range cols {
		names = append(names, c.name)
	}
	if got := strings.Join(names, ","); got != "policy,pctl,W,warmup,budget,detector,split" {
		t.Errorf("columns %s", got)
	}
}

func TestGridErrors(t *testing.T) {
	base := controller.Default(controller.PolicyDeepConf)
	for _, tc := range []struct {
		g    Grid
		want string
	}{
		{Grid{Percentile: []float64{10}, Eta: []float64{0.9}}, "give one of them"},
		{Grid{Percentile: []float64{101}}, "percentile 101"},
		{Grid{Eta: []float64{0}}, "η 0"},
		{Grid{Policy: []string{"magic"}}, `policy "magic"`},
	} {
		if _, err := tc.g.Settings(base); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.g, err, tc.want)
		}
	}
	// p = 100 means η = 0 for deepconf: reported on the setting, valid
	// for the prototype policy.
	ss, err := Grid{Policy: []string{controller.PolicyDeepConf, controller.PolicyPrototype}, Percentile: []float64{100}}.Settings(base)
	if err != nil || ss[0].Err == nil || ss[1].Err != nil || ss[1].Config.PrototypePercentile != 100 {
		t.Errorf("p100: %v, %v", ss, err)
	}
	ss, _ = Grid{Metric: []string{"median"}}.Settings(base)
	if ss[0].Err == nil || !strings.Contains(ss[0].Err.Error(), "metric") {
		t.Errorf("bad metric: %v", ss[0].Err)
	}
}
