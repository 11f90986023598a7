package pycompat

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
)

// FloatRepr formats x like Python's repr(float): the shortest round-trip
// digits, scientific notation when the decimal exponent is below −4 or at
// least 16, and a trailing ".0" on integral values: the form json.dump
// writes. Non-finite values give Python's json spellings NaN, Infinity,
// -Infinity (which are not JSON; callers decide how to write them).
func FloatRepr(x float64) string {
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

// JSONString encodes s as a JSON string the way Python's json.dump does by
// default (ensure_ascii: non-ASCII characters as \uXXXX escapes, surrogate
// pairs above U+FFFF).
func JSONString(s string) []byte {
	var b bytes.Buffer
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.Bytes()
}

// FormatG formats x like Python's f"{x:g}": 6 significant digits, trailing
// zeros dropped.
func FormatG(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }
