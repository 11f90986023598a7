package jsonline

import (
	"math"
	"testing"
)

func TestStringEnd(t *testing.T) {
	tests := []struct {
		in   string
		i    int
		want int
	}{
		{`"abc",1`, 0, 5},
		{`x:"a\"b"}`, 2, 8},
		{`"a\\"b`, 0, 5},
		{`"a\\\"b"`, 0, 8},
		{`""`, 0, 2},
		{`"abc`, 0, -1},
		{`"a\"`, 0, -1},
	}
	for _, tt := range tests {
		if got := StringEnd([]byte(tt.in), tt.i); got != tt.want {
			t.Errorf("StringEnd(%q, %d) = %d, want %d", tt.in, tt.i, got, tt.want)
		}
	}
}

func TestValueEnd(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{`[1,2,3],"b"`, 7},
		{`[1.5, true, null]`, 17},
		{`[]`, 2},
		{`["x ] \\\"y", "z"], 1`, 18},
		{`"a \"q\" ] [ \\",1`, 16},
		{`[["nested"]]`, -1},
		{`[{"a":1}]`, -1},
		{`[1,2`, -1},
		{`"unterminated`, -1},
		{`17`, -1},
		{``, -1},
	}
	for _, tt := range tests {
		if got := ValueEnd([]byte(tt.in), 0); got != tt.want {
			t.Errorf("ValueEnd(%s) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestFindValue(t *testing.T) {
	key := []byte(`"token_ok":`)
	tests := []struct {
		in         string
		from, want int
	}{
		{`{"a":1,"token_ok": [true]}`, 0, 19},
		{`{"a":1,"token_ok":[true]}`, 10, 18}, // before from: found by the second search
		{`{"a":"say \"token_ok\":[1]","b":2}`, 0, -1},
		{`{"token_ok":`, 0, 12},
		{`{"x":1}`, 99, -1},
	}
	for _, tt := range tests {
		if got := FindValue([]byte(tt.in), key, tt.from); got != tt.want {
			t.Errorf("FindValue(%s, %d) = %d, want %d", tt.in, tt.from, got, tt.want)
		}
	}
}

func TestNullSpans(t *testing.T) {
	b := []byte(`{"a":[1,2,3],"b":"xyz","c":[4]}`)
	// The short [4] stays: the rewrite must not grow the line.
	got := NullSpans(b, []Span{{27, 30}, {17, 22}, {5, 12}})
	if string(got) != `{"a":null,"b":null,"c":[4]}` {
		t.Errorf("got %s", got)
	}
}

func TestIsNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "1.5": true, "-1.5e-7": true, "3E+2": true, "1e999": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "+1": false, "NaN": false,
		"Inf": false, "0x10": false, "1_0": false, "1 ": false, "true": false,
	} {
		if got := IsNumber([]byte(s)); got != want {
			t.Errorf("IsNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseFloat(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want float64
	}{
		{"1.5", 1.5}, {" -2 ", -2}, {"null", math.NaN()}, {"NaN", math.NaN()}, {`"NaN"`, math.NaN()},
		{"Infinity", math.Inf(1)}, {`"-Infinity"`, math.Inf(-1)}, {"-Infinity", math.Inf(-1)},
	} {
		got, err := ParseFloat([]byte(tt.in))
		if err != nil || !(got == tt.want || math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("ParseFloat(%s) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	if _, err := ParseFloat([]byte(`"many"`)); err == nil {
		t.Error(`"many" parsed`)
	}
}

func TestQuotePythonLiterals(t *testing.T) {
	in := `{"a": NaN, "b": [Infinity, -Infinity], "t": "NaN \"Infinity\""}`
	want := `{"a": "NaN", "b": ["Infinity", "-Infinity"], "t": "NaN \"Infinity\""}`
	if got := string(QuotePythonLiterals([]byte(in))); got != want {
		t.Errorf("got %s", got)
	}
	plain := []byte(`{"a": 1}`)
	if got := QuotePythonLiterals(plain); &got[0] != &plain[0] {
		t.Error("a line without literals was copied")
	}
}
