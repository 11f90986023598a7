package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/controller"
)

// TestGateDecide: only a compliance strictly below the threshold is a
// low-confidence compliance (analysis: confident iff confidence ≥ split).
func TestGateDecide(t *testing.T) {
	for _, tc := range []struct {
		mode, behaviour string
		conf            float64
		verdict, action string
	}{
		{GateFlag, "compliance", 0.49, VerdictLowConfidence, ActionFlagged},
		{GateFlag, "compliance", 0.5, VerdictPass, ActionNone},
		{GateRefuse, "compliance", 0.1, VerdictLowConfidence, ActionRefused},
		{GateRefuse, "refusal", 0.1, VerdictPass, ActionNone},
		{GateRefuse, "unknown", 0.1, VerdictPass, ActionNone},
	} {
		g := Gate{Mode: tc.mode, Threshold: 0.5, Message: "no"}
		d := g.decide(Report{Behaviour: tc.behaviour, Confidence: tc.conf})
		if d.Verdict != tc.verdict || d.Action != tc.action {
			t.Errorf("%s %s %g: %+v", tc.mode, tc.behaviour, tc.conf, d)
		}
	}
	if (Gate{Mode: GateOff}).decide(Report{Behaviour: "compliance"}) != nil {
		t.Error("gate off decided")
	}
	for _, g := range []Gate{{Mode: "maybe"}, {Mode: GateRefuse, Threshold: 1}, {Mode: GateFlag, Threshold: 1 / zero()}} {
		if g.Validate() == nil {
			t.Errorf("%+v is valid", g)
		}
	}
}

func zero() float64 { return 0 }

// TestGateFromRun reads the split of analysis.json and the confidence
// settings of run.json.
func TestGateFromRun(t *testing.T) {
	write := func(dir, name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := `{"tool":"deepconf","config":{"policy":{"policy":"deepconf","metric":"lowest_group","window":16,"tail":2048,"sampling":{"top_logprobs":20}}}}`
	for _, tc := range []struct {
		name, analysis, run string
		want                float64
		err                 string
	}{
		{"median", `{"scoring":"refusal","split":{"method":"median","metric":"confidence","value":11.25,"above":null,"below":null,"eligible":40}}`, run, 11.25, ""},
		{"fixed value", `{"scoring":"refusal","split":{"method":"value","metric":"confidence","value":3,"eligible":4}}`, run, 3, ""},
		{"seed split", `{"scoring":"refusal","split":{"method":"seed","metric":"avg_confidence","value":null,"above":0.7,"below":0.3,"eligible":4}}`, run, 0, "seed split"},
		{"no value", `{"scoring":"refusal","split":{"method":"median","metric":"confidence","value":null,"eligible":0}}`, run, 0, "no finite split"},
		{"seed scoring", `{"overall":{}}`, run, 0, "no split"},
		{"no policy", `{"split":{"method":"median","metric":"confidence","value":1,"eligible":3}}`, `{"config":{}}`, 0, "no policy"},
		{"malformed", `{"split":`, run, 0, "read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(dir, "analysis.json", tc.analysis)
			write(dir, "run.json", tc.run)
			th, scale, src, err := GateFromRun(dir)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if th != tc.want || scale.Window != 16 || scale.Metric != "lowest_group" || scale.Sampling.TopLogprobs != 20 || !strings.Contains(src, "analysis.json") {
				t.Errorf("threshold %g scale %+v source %q", th, scale, src)
			}
		})
	}
	if _, _, _, err := GateFromRun(t.TempDir()); err == nil || !strings.Contains(err.Error(), "deepconf analyze") {
		t.Errorf("missing analysis: %v", err)
	}
	// scaleDiff names what differs.
	a := controller.Default(controller.PolicyDeepConf)
	b := a
	b.Window, b.Official = 8, true
	if d := scaleDiff(a, b); !strings.Contains(d, "window 8") || !strings.Contains(d, "official-confidence") {
		t.Errorf("scaleDiff = %q", d)
	}
	b = a
	b.Tau, b.Budget = 0.5, 3 // policy settings do not change the scale
	if d := scaleDiff(a, b); d != "" {
		t.Errorf("scaleDiff = %q", d)
	}
}
