package sweep

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/deepconf/deepconf/internal/jsonline"
	"github.com/deepconf/deepconf/record"
)

// Keys of the bulky fields of a traces.jsonl line. A key pattern (quote,
// name, quote, colon) cannot occur inside a JSON string value, where quotes
// are escaped, so a byte search finds the key itself.
const (
	keyConfs    = `"token_confidences":`
	keyOK       = `"token_ok":`
	keyLogprobs = `"token_logprobs":`
	keyText     = `"text":`
)

// lineParser decodes traces.jsonl lines into what a replay needs. The
// per-token arrays (the bulk of a line: 256 tokens are about 5 KB of JSON)
// are cut out of the line and parsed by a dedicated float32 scanner; the
// rest is decoded by encoding/json. A lineParser is not safe for concurrent
// use.
type lineParser struct {
	texts    bool // decode the text
	logprobs bool // decode the sampled-token log-probabilities
	f32      []float32
	bools    []bool
}

// span is the byte range [lo, hi) of a value in a line.
type span struct{ lo, hi int }

// parse decodes one non-blank line. It modifies b (the cut-out values are
// replaced by null). The returned trace owns its slices and strings.
func (p *lineParser) parse(b []byte) (record.Trace, error) {
	var cut []span
	var confs, lps []float32
	var ok []bool
	if s, found, err := valueSpan(b, keyConfs, '['); err != nil {
		return record.Trace{}, fmt.Errorf("field token_confidences: %w", err)
	} else if found {
		if confs, err = p.floats(b[s.lo:s.hi]); err != nil {
			return record.Trace{}, fmt.Errorf("field token_confidences: %w", err)
		}
		cut = append(cut, s)
	}
	if s, found, err := valueSpan(b, keyOK, '['); err != nil {
		return record.Trace{}, fmt.Errorf("field token_ok: %w", err)
	} else if found {
		if ok, err = p.boolArray(b[s.lo:s.hi]); err != nil {
			return record.Trace{}, fmt.Errorf("field token_ok: %w", err)
		}
		cut = append(cut, s)
	}
	if s, found, err := valueSpan(b, keyLogprobs, '['); err != nil {
		return record.Trace{}, fmt.Errorf("field token_logprobs: %w", err)
	} else if found {
		if p.logprobs {
			if lps, err = p.floats(b[s.lo:s.hi]); err != nil {
				return record.Trace{}, fmt.Errorf("field token_logprobs: %w", err)
			}
		}
		cut = append(cut, s)
	}
	if !p.texts {
		if s, found, err := valueSpan(b, keyText, '"'); err != nil {
			return record.Trace{}, fmt.Errorf("field text: %w", err)
		} else if found {
			cut = append(cut, s)
		}
	}
	var t record.Trace
	if err := json.Unmarshal(nullSpans(b, cut), &t); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return record.Trace{}, fmt.Errorf("field %s: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return record.Trace{}, err
	}
	if t.InstanceID == "" {
		return record.Trace{}, errors.New("field instance_id: missing or empty")
	}
	t.TokenConfidences, t.TokenOK, t.TokenLogprobs = confs, ok, lps
	if !p.texts {
		t.Text = ""
	}
	if len(ok) != 0 && len(ok) != len(confs) {
		return record.Trace{}, fmt.Errorf("field token_ok: %d flags for %d token confidences", len(ok), len(confs))
	}
	if p.logprobs && len(lps) != len(confs) {
		return record.Trace{}, fmt.Errorf("field token_logprobs: %d log-probabilities for %d token confidences", len(lps), len(confs))
	}
	return t, nil
}

// valueSpan finds key in b and returns the span of its value, which must
// start with open ('[' for a flat array of scalars, '"' for a string) or be
// null (found is then false). A missing key is not an error.
func valueSpan(b []byte, key string, open byte) (s span, found bool, err error) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return span{}, false, nil
	}
	j := i + len(key)
	for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
		j++
	}
	if bytes.HasPrefix(b[j:], []byte("null")) {
		return span{}, false, nil
	}
	if j >= len(b) || b[j] != open {
		want := "an array"
		if open == '"' {
			want = "a string"
		}
		return span{}, false, fmt.Errorf("want %s, got %.20q", want, b[j:])
	}
	var end int
	if open == '"' {
		end = jsonline.StringEnd(b, j)
	} else {
		end = flatArrayEnd(b, j)
	}
	if end < 0 {
		return span{}, false, errors.New("malformed or unterminated value")
	}
	return span{j, end}, true, nil
}

// flatArrayEnd returns the index just after the array of numbers, booleans
// and nulls starting at b[i] == '[', or −1 when it is unterminated or holds
// a string, array or object.
func flatArrayEnd(b []byte, i int) int {
	k := bytes.IndexByte(b[i+1:], ']')
	if k < 0 {
		return -1
	}
	seg := b[i+1 : i+1+k]
	if bytes.IndexByte(seg, '"') >= 0 || bytes.IndexByte(seg, '[') >= 0 || bytes.IndexByte(seg, '{') >= 0 {
		return -1
	}
	return i + 1 + k + 1
}

// nullSpans replaces the values at spans (in any order, not overlapping)
// by null, in place, and returns the shortened line. Values no longer than
// null are left as they are (encoding/json decodes them quickly, and the
// in-place rewrite must not grow the line).
func nullSpans(b []byte, spans []span) []byte {
	spans = slices.DeleteFunc(spans, func(s span) bool { return s.hi-s.lo <= len("null") })
	// Sort the few spans by position (insertion sort).
	for i := 1; i < len(spans); i++ {
		for j := i; j > 0 && spans[j].lo < spans[j-1].lo; j-- {
			spans[j], spans[j-1] = spans[j-1], spans[j]
		}
	}
	w, r := 0, 0
	for _, s := range spans {
		w += copy(b[w:], b[r:s.lo])
		w += copy(b[w:], "null")
		r = s.hi
	}
	w += copy(b[w:], b[r:])
	return b[:w]
}

// elements calls fn with each comma-separated element of the array value
// v ("[...]"), spaces trimmed.
func elements(v []byte, fn func(i int, e []byte) error) error {
	inner := bytes.TrimSpace(v[1 : len(v)-1])
	if len(inner) == 0 {
		return nil
	}
	for i := 0; ; i++ {
		k := bytes.IndexByte(inner, ',')
		e := inner
		if k >= 0 {
			e = inner[:k]
		}
		if err := fn(i, bytes.TrimSpace(e)); err != nil {
			return err
		}
		if k < 0 {
			return nil
		}
		inner = inner[k+1:]
	}
}

// floats parses an array of JSON numbers into a new []float32. encoding/json
// writes a float32 with the shortest decimal that round-trips at 32 bits,
// so parsing at 32 bits restores the stored value exactly.
func (p *lineParser) floats(v []byte) ([]float32, error) {
	p.f32 = p.f32[:0]
	err := elements(v, func(i int, e []byte) error {
		x, err := strconv.ParseFloat(string(e), 32)
		if err != nil {
			return fmt.Errorf("element %d: %q is not a float32 number", i, e)
		}
		p.f32 = append(p.f32, float32(x))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), p.f32...), nil
}

// boolArray parses an array of JSON booleans into a new []bool.
func (p *lineParser) boolArray(v []byte) ([]bool, error) {
	p.bools = p.bools[:0]
	err := elements(v, func(i int, e []byte) error {
		switch string(e) {
		case "true":
			p.bools = append(p.bools, true)
		case "false":
			p.bools = append(p.bools, false)
		default:
			return fmt.Errorf("element %d: %q is not a boolean", i, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append([]bool(nil), p.bools...), nil
}
