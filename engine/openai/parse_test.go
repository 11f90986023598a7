package openai

import (
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"testing"
)

// sameFloat reports whether a and b are equal, treating NaN as equal to NaN.
func sameFloat(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

func sameFloats(a, b []float64) bool {
	return slices.EqualFunc(a, b, sameFloat)
}

func TestAppendUnescaped(t *testing.T) {
	// Expected values follow RFC 8259 §7 and encoding/json's handling of
	// invalid surrogates (U+FFFD).
	tests := []struct {
		raw, want string
	}{
		{`plain`, "plain"},
		{`a\"b\\c\/d`, `a"b\c/d`},
		{`\b\f\n\r\t`, "\b\f\n\r\t"},
		{`\u003cthink\u003e`, "<think>"},
		{`\u2019t`, "\u2019t"},
		{`\ud83d\ude00`, "\U0001F600"}, // surrogate pair
		{`\ud83dx`, "\uFFFDx"},         // lone high surrogate
		{`\ude00`, "\uFFFD"},           // lone low surrogate
		{`\uZZZZ`, "\uFFFDZZZZ"},       // bad hex: the \u escape becomes U+FFFD
		{`\q`, "\uFFFD"},
		{`tail\`, "tail\uFFFD"},
	}
	for _, tt := range tests {
		got := string(appendUnescaped(nil, []byte(tt.raw)))
		if got != tt.want {
			t.Errorf("appendUnescaped(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestScannerNum(t *testing.T) {
	tests := []struct {
		in     string
		want   float64
		isNull bool
		err    bool
	}{
		{"-0.0009", -0.0009, false, false},
		{"-9999.0", -9999, false, false},
		{"1e-3", 0.001, false, false},
		{"-2.5E+1", -25, false, false},
		{"0", 0, false, false},
		{"NaN", math.NaN(), false, false},
		{"Infinity", math.Inf(1), false, false},
		{"-Infinity", math.Inf(-1), false, false},
		{"null", math.NaN(), true, false},
		{"nan", 0, false, true},
		{"inf", 0, false, true},
		{`"1"`, 0, false, true},
		{"--1", 0, false, true},
		{"", 0, false, true},
	}
	for _, tt := range tests {
		s := scanner{buf: []byte(tt.in)}
		got, isNull, err := s.num()
		if (err != nil) != tt.err {
			t.Errorf("num(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && (!sameFloat(got, tt.want) || isNull != tt.isNull) {
			t.Errorf("num(%q) = %v, null %v; want %v, null %v", tt.in, got, isNull, tt.want, tt.isNull)
		}
	}
}

func TestScannerInt(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"0", 0, false},
		{"151645", 151645, false},
		{"-7", -7, false},
		{"9223372036854775807", 0, true}, // refused: the bound is conservative
		{"1.5", 0, true},
		{"1e3", 0, true},
		{"-", 0, true},
		{"x", 0, true},
	}
	for _, tt := range tests {
		s := scanner{buf: []byte(tt.in)}
		got, err := s.int()
		if (err != nil) != tt.err || err == nil && got != tt.want {
			t.Errorf("int(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestScannerSkip(t *testing.T) {
	tests := []struct {
		in   string
		rest string // what follows the skipped value
		err  bool
	}{
		{`"a\"b" ,x`, " ,x", false},
		{`{"a":[1,{"b":"]}"}],"c":null}x`, "x", false},
		{`[[],{}]`, "", false},
		{`-Infinity,`, ",", false},
		{`true}`, "}", false},
		{`{"a":[1}`, "", true},
		{`[1,2`, "", true},
		{`"open`, "", true},
		{`,`, "", true},
	}
	for _, tt := range tests {
		s := scanner{buf: []byte(tt.in)}
		err := s.skip()
		if (err != nil) != tt.err {
			t.Errorf("skip(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && string(s.buf[s.pos:]) != tt.rest {
			t.Errorf("skip(%q) left %q, want %q", tt.in, s.buf[s.pos:], tt.rest)
		}
	}
}

func TestScannerSkipNumbers(t *testing.T) {
	tests := []struct {
		in, rest string
		err      bool
	}{
		{`[72,101, 108]x`, "x", false},
		{`[]x`, "x", false},
		{`["a]",[1]]x`, "x", false}, // not numbers: the generic skip
		{`null,`, ",", false},
		{`[1,2`, "", true},
	}
	for _, tt := range tests {
		s := scanner{buf: []byte(tt.in)}
		err := s.skipNumbers()
		if (err != nil) != tt.err || err == nil && string(s.buf[s.pos:]) != tt.rest {
			t.Errorf("skipNumbers(%q): error %v, rest %q; want error %v, rest %q", tt.in, err, s.buf[s.pos:], tt.err, tt.rest)
		}
	}
}

// readEvents reads all events of an SSE stream.
func readEvents(t *testing.T, stream string, size int) ([]string, error) {
	t.Helper()
	sr := newSSEReader(strings.NewReader(stream), size)
	var got []string
	for {
		data, kind, err := sr.next()
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		prefix := ""
		if kind == eventError {
			prefix = "error:"
		}
		got = append(got, prefix+string(data))
	}
}

func TestSSEReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name   string
		stream string
		size   int
		want   []string
		err    error
	}{
		{"basic", "data: {\"a\":1}\n\ndata: [DONE]\n\n", 0, []string{`{"a":1}`, "[DONE]"}, nil},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", 0, []string{"a", "b"}, nil},
		{"no space", "data:a\n\n", 0, []string{"a"}, nil},
		{"comments and fields", ": keep-alive\nevent: x\nid: 3\nretry: 10\ndata: a\n\n: ping\n\n", 0, []string{"a"}, nil},
		{"multi-line data", "data: a\ndata: b\n\n", 0, []string{"a\nb"}, nil},
		{"blank lines", "\n\n\ndata: a\n\n\n\n", 0, []string{"a"}, nil},
		{"llama.cpp error field", "error: {\"message\":\"boom\"}\n\n", 0, []string{`error:{"message":"boom"}`}, nil},
		{"line longer than the buffer", "data: " + long + "\n\ndata: b\n\n", 16, []string{long, "b"}, nil},
		{"no final blank line", "data: a\n\ndata: [DONE]\n", 0, []string{"a", "[DONE]"}, nil},
		{"cut mid line", "data: a\n\ndata: {\"cho", 0, []string{"a"}, errCutMidLine},
		{"cut mid long line", "data: " + long, 16, nil, errCutMidLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := tt.size
			if size == 0 {
				size = 4096
			}
			got, err := readEvents(t, tt.stream, size)
			if !errors.Is(err, tt.err) {
				t.Fatalf("error = %v, want %v", err, tt.err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

// parsed is a parsed entry in plain form.
type parsed struct {
	text     string
	id       int32
	lp       float64
	tops     []float64
	ids      []int32
	firstTop int8
}

func parseOne(t *testing.T, data string) (*parser, []parsed) {
	t.Helper()
	var p parser
	if err := p.parse([]byte(data)); err != nil {
		t.Fatalf("parse: %v", err)
	}
	var out []parsed
	for _, e := range p.c.entries {
		q := parsed{
			text: string(p.c.text[e.textOff:e.textEnd]), id: e.id, lp: e.logprob,
			tops: slices.Clone(p.c.tops[e.top0:e.top1]), firstTop: e.firstTop,
		}
		if e.ids {
			q.ids = slices.Clone(p.c.topIDs[e.top0:e.top1])
		}
		out = append(out, q)
	}
	return &p, out
}

func TestParseChatEntry(t *testing.T) {
	// The sampled token first and out of order, as vLLM sends it; an
	// escaped token without bytes; ids as llama.cpp sends them.
	p, got := parseOne(t, `{"choices":[{"index":0,"delta":{"content":"x"},"logprobs":{"content":[`+
		`{"token":" help","logprob":-2.3,"bytes":[32,104,101,108,112],"top_logprobs":[{"token":" help","logprob":-2.3},{"token":" assist","logprob":-0.21},{"token":" provide","logprob":-1.9}]},`+
		`{"token":"\u003cb\u003e","logprob":-0.5,"top_logprobs":[]},`+
		`{"id":40,"token":"I","logprob":-0.1,"top_logprobs":[{"id":40,"token":"I","logprob":-0.1},{"id":7,"token":"A","logprob":-3}]}`+
		`]}}]}`)
	want := []parsed{
		{text: " help", id: -1, lp: -2.3, tops: []float64{-0.21, -1.9, -2.3}, firstTop: 1},
		{text: "<b>", id: -1, lp: -0.5, tops: []float64{}, firstTop: -1},
		{text: "I", id: 40, lp: -0.1, tops: []float64{-0.1, -3}, ids: []int32{40, 7}, firstTop: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.text != w.text || g.id != w.id || g.lp != w.lp || !sameFloats(g.tops, w.tops) || !slices.Equal(g.ids, w.ids) || g.firstTop != w.firstTop {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if p.c.unsorted != 1 {
		t.Errorf("unsorted = %d, want 1", p.c.unsorted)
	}
	if string(p.c.content) != "x" {
		t.Errorf("content = %q", p.c.content)
	}
}

func TestParseSortCarriesIDsAndPutsNaNLast(t *testing.T) {
	_, got := parseOne(t, `{"choices":[{"index":0,"logprobs":{"content":[{"id":1,"token":"a","logprob":-1,`+
		`"top_logprobs":[{"id":1,"logprob":-1},{"id":2,"logprob":NaN},{"id":3,"logprob":-0.5},{"id":4,"logprob":-Infinity},{"id":5,"logprob":-9999.0}]}]}}]}`)
	wantTops := []float64{-0.5, -1, -9999, math.Inf(-1), math.NaN()}
	wantIDs := []int32{3, 1, 5, 4, 2}
	if !sameFloats(got[0].tops, wantTops) || !slices.Equal(got[0].ids, wantIDs) {
		t.Errorf("tops %v ids %v; want %v %v", got[0].tops, got[0].ids, wantTops, wantIDs)
	}
}

func TestParseLegacy(t *testing.T) {
	p, got := parseOne(t, `{"choices":[{"index":0,"text":"No, \ufffd","logprobs":{"text_offset":[0,2,3],`+
		`"token_logprobs":[-0.4,null,-0.7],"tokens":["No",",","\ufffd"],`+
		`"top_logprobs":[{"No":-0.4,"I":-1.3},null,{"\ufffd":-0.7," I":-1.6}]},"finish_reason":null}]}`)
	want := []parsed{
		{text: "No", id: -1, lp: -0.4, tops: []float64{-0.4, -1.3}, firstTop: 1},
		{text: ",", id: -1, lp: math.NaN(), tops: []float64{}, firstTop: -1},
		{text: "\ufffd", id: -1, lp: -0.7, tops: []float64{-0.7, -1.6}, firstTop: 1},
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.text != w.text || g.id != w.id || !sameFloat(g.lp, w.lp) || !sameFloats(g.tops, w.tops) || g.firstTop != w.firstTop {
			t.Errorf("entry %d = %+v, want %+v", i, g, w)
		}
	}
	if p.c.nulls != 1 {
		t.Errorf("nulls = %d, want 1", p.c.nulls)
	}
}

func TestParseLegacyTokenIDs(t *testing.T) {
	_, got := parseOne(t, `{"choices":[{"index":0,"text":"No","logprobs":{"tokens":["token_id:2753"],"token_logprobs":[-0.4],`+
		`"top_logprobs":[{"token_id:40":-1.3,"token_id:2753":-0.4}]}}]}`)
	if got[0].id != 2753 || !slices.Equal(got[0].ids, []int32{2753, 40}) || !sameFloats(got[0].tops, []float64{-0.4, -1.3}) || got[0].firstTop != 0 {
		t.Errorf("entry = %+v", got[0])
	}
}

func TestParseChunkKinds(t *testing.T) {
	var p parser
	// Role-only first chunk.
	if err := p.parse([]byte(`{"id":"x","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`)); err != nil {
		t.Fatal(err)
	}
	if len(p.c.entries) != 0 || p.c.logprobs || p.c.finish != "" || p.c.usage.present {
		t.Errorf("role chunk: %+v", p.c)
	}
	// Usage-only final chunk.
	if err := p.parse([]byte(`{"id":"x","choices":[],"usage":{"prompt_tokens":17,"total_tokens":23,"completion_tokens":6}}`)); err != nil {
		t.Fatal(err)
	}
	if !p.c.usage.present || p.c.usage.promptTokens != 17 || p.c.usage.completionTokens != 6 || p.c.choices != 0 {
		t.Errorf("usage chunk: %+v", p.c.usage)
	}
	// In-stream error (vLLM) and Ollama's string form.
	if err := p.parse([]byte(`{"error":{"object":"error","message":"engine dead","type":"InternalServerError","code":500}}`)); err != nil {
		t.Fatal(err)
	}
	if p.c.errMsg != "engine dead" {
		t.Errorf("errMsg = %q", p.c.errMsg)
	}
	if err := p.parse([]byte(`{"error":"model runner crashed"}`)); err != nil {
		t.Fatal(err)
	}
	if p.c.errMsg != "model runner crashed" {
		t.Errorf("errMsg = %q", p.c.errMsg)
	}
	// Reasoning split off by a reasoning parser.
	if err := p.parse([]byte(`{"choices":[{"index":0,"delta":{"reasoning_content":"hm","content":null}}]}`)); err != nil {
		t.Fatal(err)
	}
	if string(p.c.reasoning) != "hm" || len(p.c.content) != 0 {
		t.Errorf("reasoning %q content %q", p.c.reasoning, p.c.content)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"truncated", `{"choices":[{"index":0,"delta":{"content":"a"}`, "expected ',' or '}'"},
		{"not an object", `[1]`, "expected a JSON object"},
		{"trailing data", `{} {}`, "after the JSON value"},
		{"logprob is a string", `{"choices":[{"index":0,"logprobs":{"content":[{"token":"a","logprob":"-1"}]}}]}`, "choices[0]: logprobs: content[0]: logprob: offset"},
		{"top logprob missing value", `{"choices":[{"index":0,"logprobs":{"content":[{"token":"a","logprob":-1,"top_logprobs":[{"token":"a","logprob":}]}]}}]}`, "top_logprobs[0].logprob"},
		{"second choice", `{"choices":[{"index":1,"delta":{}}]}`, "n=1"},
		{"legacy length mismatch", `{"choices":[{"index":0,"logprobs":{"tokens":["a","b"],"token_logprobs":[-1]}}]}`, "2 tokens but 1 token_logprobs"},
		{"byte out of range", `{"choices":[{"index":0,"logprobs":{"content":[{"token":"a","logprob":-1,"bytes":[300]}]}}]}`, "out of range"},
	}
	for _, tt := range tests {
		var p parser
		err := p.parse([]byte(tt.data))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error = %v, want it to contain %q", tt.name, err, tt.want)
		}
	}
}
