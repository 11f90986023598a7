package analysis

import (
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
