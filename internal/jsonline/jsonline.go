// Package jsonline scans the bytes of JSON lines without decoding them, so
// that package store can cut large values (per-token arrays, texts) out of a
// line before encoding/json sees the rest, and reads the number forms that
// Python's json module writes.
//
// The key search relies on a property of JSON: a key pattern (quote, name,
// quote, colon) cannot occur inside a string value, where every quote is
// escaped, so a byte search for it finds a key.
package jsonline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// StringEnd returns the index just after the JSON string that starts at
// b[i] (a '"'), or −1 when the string is not terminated. A quote preceded
// by an odd number of backslashes is escaped and does not end the string.
func StringEnd(b []byte, i int) int {
	j := i + 1
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for p := q - 1; p > i && b[p] == '\\'; p-- {
			n++
		}
		if n%2 == 0 {
			return q + 1
		}
		j = q + 1
	}
}

// ValueEnd returns the index just after the JSON string or flat array (of
// numbers, booleans, nulls and strings) that starts at b[i], or −1 when
// b[i] starts neither, the value is not terminated, or the array holds an
// array or an object.
func ValueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return StringEnd(b, i)
	case '[':
	default:
		return -1
	}
	j := i + 1
	// Fast path: an array of numbers, booleans and null ends at the first
	// ']' and holds no quote, bracket or brace (IndexByte is vectorised).
	if k := bytes.IndexByte(b[j:], ']'); k >= 0 {
		seg := b[j : j+k]
		if bytes.IndexByte(seg, '"') < 0 && bytes.IndexByte(seg, '[') < 0 && bytes.IndexByte(seg, '{') < 0 {
			return j + k + 1
		}
	}
	for j < len(b) {
		k := bytes.IndexAny(b[j:], `"[]{`)
		if k < 0 {
			return -1
		}
		j += k
		switch b[j] {
		case ']':
			return j + 1
		case '"':
			if j = StringEnd(b, j); j < 0 {
				return -1
			}
		default: // nested array or object
			return -1
		}
	}
	return -1
}

// FindValue returns the index of the value of key (the pattern `"name":`)
// in b, spaces after the colon skipped, or −1 when b does not hold the
// key. It searches b[from:] first, where the next key of a line written in
// field order is, and then the rest.
func FindValue(b, key []byte, from int) int {
	from = min(max(from, 0), len(b))
	i := bytes.Index(b[from:], key)
	if i >= 0 {
		i += from
	} else if i = bytes.Index(b[:min(len(b), from+len(key)-1)], key); i < 0 {
		return -1
	}
	j := i + len(key)
	for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
		j++
	}
	return j
}

// Span is the byte range [Lo, Hi) of a value in a line.
type Span struct{ Lo, Hi int }

// NullSpans replaces the values at spans (in any order, not overlapping) by
// null, in place, and returns the shortened line. Values no longer than
// null are left as they are (encoding/json decodes them quickly, and the
// in-place rewrite must not grow the line). It reorders spans.
func NullSpans(b []byte, spans []Span) []byte {
	spans = slices.DeleteFunc(spans, func(s Span) bool { return s.Hi-s.Lo <= len("null") })
	slices.SortFunc(spans, func(a, b Span) int { return a.Lo - b.Lo })
	w, r := 0, 0
	for _, s := range spans {
		w += copy(b[w:], b[r:s.Lo])
		w += copy(b[w:], "null")
		r = s.Hi
	}
	w += copy(b[w:], b[r:])
	return b[:w]
}

// IsNumber reports whether b is a JSON number (RFC 8259 grammar: an
// optional minus, an integer without leading zeros, an optional fraction
// and an optional exponent).
func IsNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}

// ParseFloat decodes a JSON value that stands for a float64: a number, null
// (NaN: undefined), or NaN, Infinity and -Infinity, bare (as Python's json
// module writes them) or as strings.
func ParseFloat(b []byte) (float64, error) {
	b = bytes.TrimSpace(b)
	switch string(b) {
	case "null", "NaN", `"NaN"`:
		return math.NaN(), nil
	case "Infinity", `"Infinity"`, `"+Infinity"`, `"inf"`:
		return math.Inf(1), nil
	case "-Infinity", `"-Infinity"`, `"-inf"`:
		return math.Inf(-1), nil
	}
	var x float64
	if err := json.Unmarshal(b, &x); err != nil {
		return 0, fmt.Errorf("want a number, null, NaN or ±Infinity, got %.40s", b)
	}
	return x, nil
}

// QuotePythonLiterals rewrites the bare NaN, Infinity and -Infinity tokens
// that Python's json module writes for non-finite floats into JSON strings
// (which ParseFloat reads). Text inside strings is left alone. A line
// without such tokens is returned unchanged, without copying.
func QuotePythonLiterals(b []byte) []byte {
	if !bytes.Contains(b, []byte("NaN")) && !bytes.Contains(b, []byte("Infinity")) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch {
		case c == '"':
			inString = true
		case bytes.HasPrefix(b[i:], []byte("NaN")):
			out = append(out, `"NaN"`...)
			i += len("NaN") - 1
			continue
		case bytes.HasPrefix(b[i:], []byte("-Infinity")):
			out = append(out, `"-Infinity"`...)
			i += len("-Infinity") - 1
			continue
		case bytes.HasPrefix(b[i:], []byte("Infinity")):
			out = append(out, `"Infinity"`...)
			i += len("Infinity") - 1
			continue
		}
		out = append(out, c)
	}
	return out
}
