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

// TestAnalyzePrototypeNonFinite: the prototype's "infinity bug" (Python writes
// bare Infinity in predictions.jsonl; package store reads it) survives the
// seed analysis, which still writes valid JSON.
func TestAnalyzePrototypeNonFinite(t *testing.T) {
	line := `{"instance_id": "a", "traces": ["NaN Infinity"], "confidences": [Infinity, NaN, 0.5, -Infinity], ` +
		`"refused": [false], "final_prediction": "safe", "refusal_rate": 0.0, "avg_confidence": Infinity, ` +
		`"confidence_category": "confident_compliance", "num_traces_used": 1, "total_tokens": 3, "tokens_per_trace": [3], "avg_tokens_per_trace": 3.0}`
	p := filepath.Join(t.TempDir(), record.PredictionsFile)
	if err := os.WriteFile(p, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	preds, nonFinite, err := ReadPredictions(context.Background(), p, true)
	if err != nil || len(preds) != 1 || nonFinite != 4 || !math.IsInf(preds[0].AvgConfidence, 1) {
		t.Fatalf("%v: %d predictions, %d non-finite", err, len(preds), nonFinite)
	}
	r, err := AnalyzePrototype(&RunData{Predictions: preds, PredictionsPath: p}, 0, map[string]string{"a": "benign"})
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
