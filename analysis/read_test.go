package analysis

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/record"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPredictionsPythonNonFinite(t *testing.T) {
	// Python's json.dumps writes NaN, Infinity and -Infinity bare; the
	// text "NaN Infinity" inside a string must stay as it is.
	line := `{"instance_id": "a", "traces": ["NaN Infinity \"NaN\""], "confidences": [Infinity, NaN, 0.5, -Infinity], ` +
		`"refused": [false], "final_prediction": "safe", "refusal_rate": 0.0, "avg_confidence": Infinity, ` +
		`"confidence_category": "confident_compliance", "num_traces_used": 1, "total_tokens": 3, "tokens_per_trace": [3], "avg_tokens_per_trace": 3.0}`
	dir := t.TempDir()
	p := writeFile(t, dir, "predictions.jsonl", line+"\n\n")
	preds, nonFinite, err := ReadPredictions(context.Background(), p, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 1 || nonFinite != 4 {
		t.Fatalf("%d predictions, %d non-finite; want 1, 4", len(preds), nonFinite)
	}
	c := preds[0].Confidences
	if !math.IsInf(c[0], 1) || !math.IsNaN(c[1]) || c[2] != 0.5 || !math.IsInf(c[3], -1) || !math.IsInf(preds[0].AvgConfidence, 1) {
		t.Errorf("confidences %v avg %v", c, preds[0].AvgConfidence)
	}
	if preds[0].Traces[0] != `NaN Infinity "NaN"` {
		t.Errorf("text changed: %q", preds[0].Traces[0])
	}
	// The seed analysis keeps the infinity and still writes valid JSON.
	r, err := AnalyzeSeed(&RunData{Predictions: preds, PredictionsPath: p}, 0, map[string]string{"a": "benign"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := r.MarshalJSON()
	if !json.Valid(b) || !strings.Contains(string(b), `"avg_confidence": "Infinity"`) {
		t.Errorf("seed JSON with an infinite confidence:\n%s", b)
	}
}

func TestScanTracesSkipsTokenArrays(t *testing.T) {
	dir := writeFixture(t)
	path := filepath.Join(dir, record.TracesFile)
	var light, full []record.Trace
	collect := func(dst *[]record.Trace) func(int, *record.Trace) error {
		return func(_ int, tr *record.Trace) error {
			*dst = append(*dst, *tr)
			return nil
		}
	}
	var text []record.Trace
	for _, m := range []struct {
		mode ScanMode
		dst  *[]record.Trace
	}{{ScanSummary, &light}, {ScanText, &text}, {ScanFull, &full}} {
		if err := ScanTraces(context.Background(), path, m.mode, collect(m.dst)); err != nil {
			t.Fatal(err)
		}
	}
	if len(light) != 38 || len(text) != 38 || len(full) != 38 {
		t.Fatalf("%d / %d / %d traces", len(light), len(text), len(full))
	}
	for i := range full {
		if light[i].TokenConfidences != nil || light[i].TokenLogprobs != nil || light[i].TokenOK != nil || light[i].Text != "" {
			t.Fatalf("trace %d: bulky fields decoded in the summary scan", i)
		}
		f := full[i]
		f.TokenConfidences, f.TokenLogprobs, f.TokenOK = nil, nil, nil
		if !reflect.DeepEqual(text[i], f) {
			t.Errorf("trace %d differs:\n text %+v\n full %+v", i, text[i], f)
		}
		f.Text = ""
		if !reflect.DeepEqual(light[i], f) {
			t.Errorf("trace %d differs:\n light %+v\n full  %+v", i, light[i], f)
		}
	}
	if got := full[0].TokenConfidences; len(got) != 10 || got[9] != 10 {
		t.Errorf("full scan token confidences %v", got)
	}
}

func TestFloatJSON(t *testing.T) {
	tests := []struct {
		f    Float
		want string
	}{
		{1.5, "1.5"}, {Float(math.NaN()), "null"}, {Float(math.Inf(1)), `"Infinity"`}, {Float(math.Inf(-1)), `"-Infinity"`}, {0, "0"},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.f)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%v) = %s, %v", float64(tt.f), b, err)
		}
		var back Float
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !(back == tt.f || (math.IsNaN(float64(back)) && math.IsNaN(float64(tt.f)))) {
			t.Errorf("round trip %v → %v", float64(tt.f), float64(back))
		}
	}
	var f Float
	if err := json.Unmarshal([]byte(`"many"`), &f); err == nil {
		t.Error(`"many" decoded`)
	}
}
