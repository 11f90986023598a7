package analysis

import (
	"bytes"
	"math"
	"strconv"

	"github.com/deepconf/deepconf/internal/jsonline"
)

// Float is a float64 statistic that always encodes as valid JSON: a finite
// value is a JSON number, NaN (undefined: an empty group, a zero
// denominator) is null, and ±Inf are the strings "Infinity" and "-Infinity"
// (Python's spellings). Decoding accepts the same forms, and also the bare
// NaN, Infinity and -Infinity literals that Python's json module writes.
type Float float64

// NaN is the undefined Float.
func NaN() Float { return Float(math.NaN()) }

// Defined reports whether f is not NaN.
func (f Float) Defined() bool { return !math.IsNaN(float64(f)) }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// MarshalJSON encodes f as a number, null or an infinity string.
func (f Float) MarshalJSON() ([]byte, error) {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return []byte("null"), nil
	case math.IsInf(x, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(x, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

// UnmarshalJSON decodes a number, null (NaN), or one of the strings or bare
// literals NaN, Infinity, -Infinity.
func (f *Float) UnmarshalJSON(b []byte) error {
	x, err := jsonline.ParseFloat(b)
	if err != nil {
		return err
	}
	*f = Float(x)
	return nil
}

// pyFloat formats x like Python's repr(float): the shortest round-trip
// digits, scientific notation when the decimal exponent is below −4 or at
// least 16, and a trailing ".0" on integral values. Non-finite values give
// Python's json spellings NaN, Infinity, -Infinity (which are not JSON).
func pyFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "Infinity"
	case math.IsInf(x, -1):
		return "-Infinity"
	case x == 0:
		if math.Signbit(x) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(x, 'e', -1, 64)
	i := bytes.LastIndexByte([]byte(e), 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp < -4 || exp >= 16 {
		return e // Go's 'e' form matches Python's: 1e-05, 1.5e+16
	}
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !bytes.ContainsAny([]byte(s), ".") {
		s += ".0"
	}
	return s
}
