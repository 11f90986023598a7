package pycompat

import (
	"math"
	"testing"
)

func TestFloatRepr(t *testing.T) {
	// Python 3: repr(x) for each x.
	tests := []struct {
		x    float64
		want string
	}{
		{1, "1.0"}, {0, "0.0"}, {0.5, "0.5"}, {1.0 / 3, "0.3333333333333333"}, {1e-5, "1e-05"},
		{0.0001, "0.0001"}, {1e16, "1e+16"}, {123456789012345.0, "123456789012345.0"},
		{1.5e16, "1.5e+16"}, {-2.5, "-2.5"}, {math.Inf(1), "Infinity"}, {math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := FloatRepr(tt.x); got != tt.want {
			t.Errorf("FloatRepr(%v) = %s, want %s", tt.x, got, tt.want)
		}
	}
}

func TestJSONString(t *testing.T) {
	// Python 3: json.dumps(s) for each s (ensure_ascii=True, the default).
	tests := []struct{ s, want string }{
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"a\nb\tc\r\b\f", `"a\nb\tc\r\b\f"`},
		{"\x01\x7f", `"\u0001\u007f"`},
		{"café", `"caf\u00e9"`},
		{"😀", `"\ud83d\ude00"`},
	}
	for _, tt := range tests {
		if got := string(JSONString(tt.s)); got != tt.want {
			t.Errorf("JSONString(%q) = %s, want %s", tt.s, got, tt.want)
		}
	}
}

func TestFormatG(t *testing.T) {
	// Python 3: f"{x:g}" for each x.
	tests := []struct {
		x    float64
		want string
	}{
		{90, "90"}, {12.5, "12.5"}, {1234567, "1.23457e+06"}, {0.0001, "0.0001"}, {0.00001, "1e-05"},
	}
	for _, tt := range tests {
		if got := FormatG(tt.x); got != tt.want {
			t.Errorf("FormatG(%v) = %s, want %s", tt.x, got, tt.want)
		}
	}
}
