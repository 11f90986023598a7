package store

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/confidence"
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

func TestReadPredictionsErrors(t *testing.T) {
	tests := []struct {
		name, content, want string
	}{
		{"syntax", `{"instance_id": "a"}` + "\n{bad\n", "predictions.jsonl:2"},
		{"type", `{"instance_id": "a", "num_traces_used": "three"}` + "\n", "predictions.jsonl:1: field num_traces_used"},
		{"missing id", `{"traces": []}` + "\n", "predictions.jsonl:1: field instance_id"},
		{"duplicate", `{"instance_id": "a"}` + "\n" + `{"instance_id": "a"}` + "\n", `predictions.jsonl:2: field instance_id: "a" already on line 1`},
		{"non-finite string", `{"instance_id": "a", "beta": "many"}` + "\n", "predictions.jsonl:1: want a number, null, NaN or ±Infinity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, t.TempDir(), "predictions.jsonl", tt.content)
			_, _, err := ReadPredictions(context.Background(), p, false)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestReadPredictionsPython: Python's bare NaN, Infinity and -Infinity
// decode (and are counted); the same words inside strings stay as they
// are.
func TestReadPredictionsPython(t *testing.T) {
	line := `{"instance_id": "a", "traces": ["NaN Infinity \"NaN\""], "confidences": [Infinity, NaN, 0.5, -Infinity], ` +
		`"refused": [false], "final_prediction": "safe", "refusal_rate": 0.0, "avg_confidence": Infinity, "threshold": -Infinity}`
	p := writeFile(t, t.TempDir(), "predictions.jsonl", line+"\n\n")
	preds, nonFinite, err := ReadPredictions(context.Background(), p, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 1 || nonFinite != 4 {
		t.Fatalf("%d predictions, %d non-finite; want 1, 4", len(preds), nonFinite)
	}
	c := preds[0].Confidences
	if !math.IsInf(c[0], 1) || !math.IsNaN(c[1]) || c[2] != 0.5 || !math.IsInf(c[3], -1) || !math.IsInf(*preds[0].Threshold, -1) {
		t.Errorf("confidences %v threshold %v", c, *preds[0].Threshold)
	}
	if preds[0].Traces[0] != `NaN Infinity "NaN"` {
		t.Errorf("text changed: %q", preds[0].Traces[0])
	}
}

// TestReadPredictionsTexts: the trace texts are skipped unless asked for,
// whatever they hold.
func TestReadPredictionsTexts(t *testing.T) {
	p := writeFile(t, t.TempDir(), "predictions.jsonl",
		`{"instance_id": "a", "traces": ["t1 ] \\\"x", "\"refused\": [true]"], "refused": [true, false], "wildguard_harmful": [true, null]}`+"\n")
	for _, texts := range []bool{false, true} {
		preds, _, err := ReadPredictions(context.Background(), p, texts)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(preds[0].Traces); (got == 2) != texts || len(preds[0].Refused) != 2 {
			t.Errorf("texts=%v: traces %q refused %v", texts, preds[0].Traces, preds[0].Refused)
		}
		if w := preds[0].WildGuardHarmful; !reflect.DeepEqual(w, []bool{true, false}) {
			t.Errorf("wildguard_harmful %v", w)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(context.Background(), dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "no predictions.jsonl") {
		t.Errorf("empty dir: %v", err)
	}
	writeFile(t, dir, CheckpointFile, `{"instance_id": "a", "ground_truth": "safe", "final_prediction": "safe"}`+"\n")
	d, err := Load(context.Background(), dir, LoadOptions{})
	if err != nil || filepath.Base(d.PredictionsPath) != CheckpointFile {
		t.Errorf("checkpoint fallback: %v", err)
	}
	writeFile(t, dir, record.RunFile, `{"config": [}`)
	if _, err := Load(context.Background(), dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "run.json") {
		t.Errorf("bad run.json: %v", err)
	}
	writeFile(t, dir, record.RunFile, `{"config": {"max_traces": "ten"}}`)
	if _, err := Load(context.Background(), dir, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "field config.max_traces") {
		t.Errorf("run.json with a bad field: %v", err)
	}
}

// TestPartialLastLine is the one rule for the end of a run file: a last
// line without a newline counts when it is a whole JSON object (a file
// written by another tool), and is a partial line, skipped and reported,
// otherwise.
func TestPartialLastLine(t *testing.T) {
	const a = `{"instance_id":"a","index":0}` + "\n"
	for _, tc := range []struct {
		name, tail string
		n, partial int
	}{
		{"newline", `{"instance_id":"b","index":1}` + "\n", 2, 0},
		{"no final newline", `{"instance_id":"b","index":1}`, 2, 0},
		{"cut", `{"instance_id":"b","ind`, 1, len(`{"instance_id":"b","ind`)},
		{"not an object", `17`, 1, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, record.PredictionsFile, a+tc.tail)
			d, err := Load(context.Background(), dir, LoadOptions{})
			if err != nil || len(d.Predictions) != tc.n || d.Partial != tc.partial {
				t.Fatalf("Load: %v, %d predictions, partial %d; want %d, %d", err, len(d.Predictions), d.Partial, tc.n, tc.partial)
			}
			p := writeFile(t, dir, record.TracesFile, a+tc.tail)
			n := 0
			if err := ScanTraces(context.Background(), p, ScanOptions{}, func(int, *record.Trace) error { n++; return nil }); err != nil || n != tc.n {
				t.Errorf("ScanTraces: %v, %d traces, want %d", err, n, tc.n)
			}
			// Open (recovery) keeps the same lines and ends the file
			// with a newline, so that the next line is appended after
			// them.
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			sd, err := Open(dir, record.Run{})
			if err != nil {
				t.Fatal(err)
			}
			sd.Close()
			if sd.Completed() != tc.n {
				t.Errorf("Open: %d finished, want %d", sd.Completed(), tc.n)
			}
			b, _ := os.ReadFile(filepath.Join(dir, record.PredictionsFile))
			if len(b) == 0 || b[len(b)-1] != '\n' || strings.Count(string(b), "\n") != tc.n {
				t.Errorf("predictions after Open: %q", b)
			}
		})
	}
}

func TestReadTraceTexts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "predictions.jsonl")
	lines := `{"instance_id":"a","traces":["a0","a1"]}

{"instance_id":"b","traces":["b0"],"avg_confidence":NaN}
{"instance_id":"c","traces":["c\u00e90"]}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := ReadTraceTexts(ctx, path, []int{2, 1}, []string{"c", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[int][]string{1: {"b0"}, 2: {"cé0"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, tc := range []struct {
		idx  []int
		ids  []string
		want string
	}{
		{[]int{1}, []string{"x"}, `predictions.jsonl:3: instance "b" where "x" was read before`},
		{[]int{5}, []string{"z"}, "3 predictions, fewer than when it was analysed"},
	} {
		if _, err := ReadTraceTexts(ctx, path, tc.idx, tc.ids); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadTraceTexts(%v, %v) = %v, want an error containing %q", tc.idx, tc.ids, err, tc.want)
		}
	}
}

// traceLine is a trace with every field set, and its line as deepconf
// writes it.
func traceLine(t *testing.T) (record.Trace, []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	confs := []float32{0, 1, -1, 14.25, math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-7, -3.4e38, 1.0000001}
	for range 2000 {
		confs = append(confs, float32(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(20)-10))))
	}
	lps := make([]float32, len(confs))
	ok := make([]bool, len(confs))
	for i := range lps {
		lps[i] = -float32(rng.ExpFloat64())
		ok[i] = i%7 != 0
	}
	tr := record.Trace{
		InstanceID: "x_test_1", Index: 3, Seed: math.MaxUint64 - 5, Phase: record.PhaseAdaptive,
		Text: "He said \"token_confidences\": [1, 2] \\ and \"text\": no\n", Tokens: len(confs), Finish: record.FinishEarlyStop,
		Used: true, Label: "refusal", Rule: "open:apology", Confidence: confidence.TraceStats{N: 4, Mean: 1.5},
		ConfidenceOptions:   &record.StatsOptions{Window: 8, Tail: 16, BottomFraction: 0.1},
		PrototypeConfidence: 0.25, Counts: confidence.Counts{Tokens: 4}, TokenConfidences: confs, TokenOK: ok, TokenLogprobs: lps,
	}
	line, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return tr, line
}

// TestParseRoundTrip: every float32 that encoding/json writes (random
// values over many magnitudes, subnormal and extreme ones) is parsed back
// bit for bit, and the other fields decode as encoding/json decodes them,
// whichever fields are asked for.
func TestParseRoundTrip(t *testing.T) {
	want, line := traceLine(t)
	for _, fields := range []TraceFields{TraceSummary, TraceText, TraceTokenConfidences, TraceTokenConfidences | TraceTokenLogprobs, TraceTokenLogprobs, TraceAll} {
		p := traceParser{fields: fields}
		var got record.Trace
		if err := p.parse(append([]byte(nil), line...), &got); err != nil {
			t.Fatalf("fields %b: %v", fields, err)
		}
		w := want
		if fields&TraceText == 0 {
			w.Text = ""
		}
		if fields&TraceTokenConfidences == 0 {
			w.TokenConfidences, w.TokenOK = nil, nil
		}
		if fields&TraceTokenLogprobs == 0 {
			w.TokenLogprobs = nil
		}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("fields %b: got %+v", fields, got)
		}
	}
	// Without token_ok (omitted when every token had data), with empty
	// arrays, and with keys in another order.
	for _, line := range []string{
		`{"instance_id":"y","text":"t","token_confidences":[],"token_logprobs":[]}`,
		`{"token_logprobs":[],"token_confidences":[],"text":"t","instance_id":"y"}`,
	} {
		p := traceParser{fields: TraceAll}
		var got record.Trace
		if err := p.parse([]byte(line), &got); err != nil || got.TokenOK != nil || got.TokenConfidences == nil || len(got.TokenConfidences) != 0 || got.Text != "t" {
			t.Errorf("%s: %+v, %v", line, got, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"instance_id":"a","token_confidences":[1,x],"token_logprobs":[1,2]}`, `field token_confidences: element 1: "x" is not a float32 number`},
		{`{"instance_id":"a","token_confidences":[1,NaN],"token_logprobs":[1,2]}`, `field token_confidences: element 1: "NaN" is not a float32 number`},
		{`{"instance_id":"a","token_confidences":[1,2],"token_logprobs":[1]}`, "field token_logprobs: 1 log-probabilities for 2 token confidences"},
		{`{"instance_id":"a","token_confidences":[1,2],"token_ok":[true],"token_logprobs":[1,2]}`, "field token_ok: 1 flags for 2"},
		{`{"instance_id":"a","token_confidences":[1,2],"token_ok":[true,1],"token_logprobs":[1,2]}`, `field token_ok: element 1: "1" is not a boolean`},
		{`{"instance_id":"a","token_confidences":"1,2"}`, "field token_confidences: want an array"},
		{`{"instance_id":"a","token_confidences":[1,2`, "field token_confidences: malformed or unterminated"},
		{`{"instance_id":"a","token_confidences":[1,"2"]}`, "field token_confidences: malformed or unterminated"},
		{`{"instance_id":"a","index":"3","token_confidences":[],"token_logprobs":[]}`, "field index: want int"},
		{`{"index":3,"token_confidences":[],"token_logprobs":[]}`, "field instance_id: missing or empty"},
		{`{"instance_id":"a","token_confidences":[1e999],"token_logprobs":[1]}`, "is not a float32 number"},
		{`{"instance_id":"a","text":7}`, "field text: want string"},
	} {
		p := traceParser{fields: TraceAll}
		var tr record.Trace
		err := p.parse([]byte(tc.line), &tr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.line, err, tc.want)
		}
	}
	// A field that is not asked for is cut out without being parsed.
	p := traceParser{fields: TraceSummary}
	var tr record.Trace
	if err := p.parse([]byte(`{"instance_id":"a","token_confidences":[1,x],"token_logprobs":[1]}`), &tr); err != nil {
		t.Errorf("summary parse of unparsed arrays: %v", err)
	}
}

// TestScanTraces: a scan with any number of workers gives every trace in
// file order, with the asked fields, and errors name the file and line.
func TestScanTraces(t *testing.T) {
	want, line := traceLine(t)
	var content strings.Builder
	for i := range 300 {
		if i == 7 {
			content.WriteString("\n") // blank lines are skipped
		}
		content.Write(line[:len(`{"instance_id":"x_test_`)])
		content.WriteString(strings.Repeat("9", i%3))
		content.Write(line[len(`{"instance_id":"x_test_`):])
		content.WriteString("\n")
	}
	path := writeFile(t, t.TempDir(), record.TracesFile, content.String())
	for _, workers := range []int{1, 3} {
		n := 0
		err := ScanTraces(context.Background(), path, ScanOptions{Fields: TraceTokenConfidences, Workers: workers}, func(l int, tr *record.Trace) error {
			wantLine := n + 1
			if n >= 7 {
				wantLine++
			}
			if l != wantLine || tr.Index != 3 || tr.Text != "" || tr.TokenLogprobs != nil || !reflect.DeepEqual(tr.TokenConfidences, want.TokenConfidences) {
				t.Fatalf("trace %d: line %d, %+v", n, l, tr.Index)
			}
			if wantID := "x_test_" + strings.Repeat("9", n%3) + "1"; tr.InstanceID != wantID {
				t.Fatalf("trace %d: %s, want %s", n, tr.InstanceID, wantID)
			}
			n++
			return nil
		})
		if err != nil || n != 300 {
			t.Errorf("workers %d: %v, %d traces", workers, err, n)
		}
	}

	p := writeFile(t, t.TempDir(), "traces.jsonl", `{"instance_id":"a","tokens":1}`+"\n"+`{"instance_id":"a","tokens":"x"}`+"\n")
	err := ScanTraces(context.Background(), p, ScanOptions{}, func(int, *record.Trace) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "traces.jsonl:2: field tokens") {
		t.Errorf("error %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ScanTraces(ctx, path, ScanOptions{}, func(int, *record.Trace) error { return nil }); err != context.Canceled {
		t.Errorf("cancelled scan: %v", err)
	}
}

// TestScanTracesWith: the caller's step runs on the decoding goroutines
// and its result comes with the trace; its error names the line.
func TestScanTracesWith(t *testing.T) {
	p := writeFile(t, t.TempDir(), "traces.jsonl", `{"instance_id":"a","text":"one"}`+"\n"+`{"instance_id":"b","text":"three"}`+"\n")
	var got []string
	err := ScanTracesWith(context.Background(), p, ScanOptions{Fields: TraceText}, func(tr *record.Trace) (int, error) {
		n := len(tr.Text)
		tr.Text = ""
		return n, nil
	}, func(_ int, tr *record.Trace, n int) error {
		got = append(got, tr.InstanceID+strings.Repeat("+", n)+tr.Text)
		return nil
	})
	if err != nil || strings.Join(got, " ") != "a+++ b+++++" {
		t.Errorf("%v, %q", err, got)
	}
	err = ScanTracesWith(context.Background(), p, ScanOptions{}, func(tr *record.Trace) (int, error) {
		if tr.InstanceID == "b" {
			return 0, os.ErrInvalid
		}
		return 0, nil
	}, func(int, *record.Trace, int) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "traces.jsonl:2: invalid argument") {
		t.Errorf("prepare error: %v", err)
	}
}
