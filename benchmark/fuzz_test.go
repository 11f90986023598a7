package benchmark

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkFuzzResult asserts the invariants of any load: either a
// *ParseError naming the input, or well-formed instances.
func checkFuzzResult(t *testing.T, name string, data []byte, insts []Instance, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %q is not a *ParseError", err)
		}
		if pe.File != name || !strings.HasPrefix(err.Error(), name) {
			t.Fatalf("error %q does not name the file", err)
		}
		if lines := bytes.Count(data, []byte("\n")) + 1; pe.Line < 0 || pe.Line > lines {
			t.Fatalf("error %q: line %d outside 0..%d", err, pe.Line, lines)
		}
		if insts != nil {
			t.Fatalf("instances returned with an error")
		}
		return
	}
	ids := make(map[string]bool, len(insts))
	for i, in := range insts {
		if in.Index != i || ids[in.ID] {
			t.Fatalf("instance %d: index %d, id %q (duplicate: %v)", i, in.Index, in.ID, ids[in.ID])
		}
		ids[in.ID] = true
		if strings.TrimSpace(in.Prompt) == "" || !utf8.ValidString(in.Prompt) {
			t.Fatalf("instance %d: bad prompt %q", i, in.Prompt)
		}
		if _, err := ParseLabel(string(in.Label)); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
		if _, dup := in.Metadata["user_input"]; dup {
			t.Fatalf("instance %d: prompt field left in the metadata", i)
		}
		for k, v := range in.Metadata {
			if s, ok := v.(string); ok && !utf8.ValidString(s) || !utf8.ValidString(k) {
				t.Fatalf("instance %d: invalid UTF-8 in metadata %q", i, k)
			}
		}
	}
}

var toxicPart = part{idPrefix: "toxicchat_test", required: [][]string{{"user_input"}, {"toxicity"}}, convert: convertToxicChat}

func FuzzCSV(f *testing.F) {
	f.Add([]byte(toxicHeader + "a,hello,,True,0,0,\nb,\"multi\nline, \"\"quoted\"\"\",,False,1,0,\"[1, 2]\"\n"))
	f.Add([]byte(toxicHeader + "a,he said \"hi\",,True,0,0,\n"))
	f.Add([]byte(toxicHeader + "a,\"never closed,,True,0,0,\n"))
	f.Add([]byte(toxicHeader + "a,x,,True,2,0,\n"))
	f.Add([]byte(toxicHeader + "a,x\n"))
	f.Add([]byte("\ufeffuser_input,toxicity\r\nhi,1.0\r\n\r\nthere,\r\n"))
	f.Add([]byte("user_input,toxicity,toxicity\n"))
	f.Add([]byte("user_input,toxicity\n\xff,0\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.csv"
		open := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		rc, _ := open()
		var insts []Instance
		src, err := newCSVSource(name, rc, ',', open)
		if err == nil {
			insts, err = readSource(context.Background(), "toxicchat", name, src, toxicPart)
		}
		checkFuzzResult(t, name, data, insts, err)
	})
}

func FuzzJSONL(f *testing.F) {
	f.Add([]byte(`{"conv_id": null, "user_input": "hi", "toxicity": 0, "jailbreaking": 0, "x": {"a": [1, 2.5, "s"]}}` + "\n\n" +
		`{"user_input": "yo \u00e9", "toxicity": 1}`))
	f.Add([]byte(`{"user_input": "b", "toxicity": }`))
	f.Add([]byte(`{"user_input": "a", "toxicity": 1`))
	f.Add([]byte(`[1, 2]`))
	f.Add([]byte(`{"user_input": 5, "toxicity": 0}`))
	f.Add([]byte("{\"user_input\": \"\xc3\x28\", \"toxicity\": 0}"))
	f.Add([]byte(`{"user_input": "a", "toxicity": 0} {"x": 1}`))
	f.Add([]byte(`{"user_input": "a", "toxicity": 0, "toxicity": 1}`))
	f.Add([]byte(`{"user_input": "a", "toxicity": 1e400}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.jsonl"
		// The fast and the field-by-field decoder must accept the same
		// lines and agree on their values.
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			fast, _, ok := decodeObject(line)
			slow, err := newJSONLSource(name, nil).parseSlow(line)
			if ok != (err == nil) {
				t.Fatalf("line %q: fast path ok=%v, slow path error %v", line, ok, err)
			}
			if ok && !reflect.DeepEqual(fast, slow.vals) {
				t.Fatalf("line %q: fast %v, slow %v", line, fast, slow.vals)
			}
		}
		src := newJSONLSource(name, io.NopCloser(bytes.NewReader(data)))
		insts, err := readSource(context.Background(), "toxicchat", name, src, toxicPart)
		checkFuzzResult(t, name, data, insts, err)
	})
}
