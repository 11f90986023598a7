package store

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/record"
)

// FuzzTraceLine: the trace parser never panics, and whatever it accepts
// it decodes as encoding/json does.
func FuzzTraceLine(f *testing.F) {
	tr, _ := traceLine(&testing.T{})
	tr.TokenConfidences, tr.TokenOK, tr.TokenLogprobs = tr.TokenConfidences[:12], tr.TokenOK[:12], tr.TokenLogprobs[:12]
	line, err := json.Marshal(tr)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(line)
	for _, s := range []string{
		`{"instance_id":"a","index":1,"text":"x \"text\": [1]","token_confidences":[1.5,2],"token_ok":[true,false],"token_logprobs":[-1,-2e-3]}`,
		`{"instance_id":"a","token_confidences":null,"token_logprobs":[]}`,
		`{"token_logprobs":[1],"instance_id":"b","token_confidences":[0]}`,
		`{"instance_id":"a","token_confidences":[1],"token_confidences":[2],"token_logprobs":[1]}`,
		`{"instance_id":"a","text":"\u00e9\\","confidence":{"n":3}}`,
		`{"instance_id":"a","token_confidences":[-0,1E5,0.5e-3],"token_logprobs":[0,0,0]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p := traceParser{fields: TraceAll}
		var got record.Trace
		if err := p.parse(bytes.Clone(b), &got); err != nil {
			return
		}
		var want record.Trace
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("parsed a line encoding/json rejects (%v): %s", err, b)
		}
		if repeatsKey(b) {
			return // the parser reads the first of repeated keys (documented)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// FuzzPredictionLine: the predictions decoder never panics, and on a line
// without Python's non-finite literals it decodes what encoding/json does.
func FuzzPredictionLine(f *testing.F) {
	for _, s := range []string{
		`{"instance_id": "a", "traces": ["t"], "confidences": [0.5], "refused": [false], "final_prediction": "safe", "refusal_rate": 0.0, "avg_confidence": 0.5, "threshold": 1.5}`,
		`{"instance_id": "a", "confidences": [Infinity, NaN], "avg_confidence": -Infinity}`,
		`{"instance_id": "b", "votes": {"refusal": 1.5}, "beta": 1, "trace_confidences": [1, 2], "wildguard_harmful": [true, null]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, _, err := decodePrediction(bytes.Clone(b))
		if err != nil || bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Infinity")) || bytes.Contains(b, []byte("null")) {
			return // non-finite values, and null floats (NaN, undefined), decode on purpose
		}
		var want record.Prediction
		if err := json.Unmarshal(b, &want); err != nil {
			return // a string where a float is wanted ("NaN") is accepted on purpose
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s\n got %+v\nwant %+v", b, got, want)
		}
	})
}

// FuzzOpen: whatever a crash (or anything else) leaves in the files, Open
// either refuses the directory or repairs it into files that a second Open
// leaves unchanged, holding exactly the instances it reports finished.
func FuzzOpen(f *testing.F) {
	f.Add([]byte(`{"instance_id":"a","index":0}`+"\n"), []byte(`{"instance_id":"a","index":0}`+"\n"+`{"instance_id":"b","ind`))
	f.Add([]byte(`{"instance_id":"a"}`+"\n"+`{"instance_id":"b"}`), []byte(`{"instance_id":"c","index":0}`+"\n"+`{"instance_id":"a","index":1}`+"\n"))
	f.Add([]byte("garbage\n"+`{"instance_id":"a"}`+"\n"), []byte(""))
	f.Add([]byte("\n\n"+`{"instance_id":"a"}`+"\n  \n"), []byte(`{"instance_id":"a","index":0}`))
	f.Fuzz(func(t *testing.T, preds, traces []byte) {
		dir := t.TempDir()
		writeFile(t, dir, record.PredictionsFile, string(preds))
		writeFile(t, dir, record.TracesFile, string(traces))
		d, err := Open(dir, record.Run{})
		if err != nil {
			return
		}
		done := d.Completed()
		d.Close()
		p1, t1 := readAll(t, dir)
		d, err = Open(dir, record.Run{})
		if err != nil {
			t.Fatalf("a repaired directory is refused: %v", err)
		}
		if d.Completed() != done {
			t.Fatalf("second Open: %d finished, first %d", d.Completed(), done)
		}
		d.Close()
		p2, t2 := readAll(t, dir)
		if !bytes.Equal(p1, p2) || !bytes.Equal(t1, t2) {
			t.Fatalf("a second Open changed the files:\n%q\n%q\n%q\n%q", p1, p2, t1, t2)
		}
		if n := bytes.Count(p1, []byte("\n")) - bytes.Count(p1, []byte("\n\n")); len(p1) > 0 && p1[len(p1)-1] != '\n' || n < done {
			t.Fatalf("repaired predictions %q hold fewer than %d lines", p1, done)
		}
	})
}

// repeatsKey reports whether the JSON object b repeats a top-level key,
// compared as encoding/json matches keys to fields (case-insensitively).
func repeatsKey(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return false
	}
	var seen []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		k, _ := tok.(string)
		if slices.ContainsFunc(seen, func(s string) bool { return strings.EqualFold(s, k) }) {
			return true
		}
		seen = append(seen, k)
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

func readAll(t *testing.T, dir string) (preds, traces []byte) {
	t.Helper()
	return mustRead(t, dir, record.PredictionsFile), mustRead(t, dir, record.TracesFile)
}

func mustRead(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := readFileIn(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readFileIn(dir, name string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, name)) }
