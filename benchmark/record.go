package benchmark

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// record is one data row of a source file.
type record struct {
	file string
	line int // 1-based line for text formats, 0 for Parquet
	row  int // 0-based data row
	// fields are the field names in source order (the header for CSV and
	// Parquet, the object's keys for JSONL).
	fields []string
	// vals maps field names to values; a nil value is a null. Fields
	// consumed verbatim into an Instance are deleted from it and the rest
	// becomes the instance's Metadata.
	vals map[string]any
	// lineOf gives the line of a field when it differs from line (CSV
	// fields spanning lines); may be nil.
	lineOf func(field string) int
	// untyped marks formats whose values are all strings (CSV, TSV): numbers
	// and booleans are then parsed from strings, which typed formats (JSON,
	// Parquet) reject as wrong types.
	untyped bool
}

// errorf returns a *ParseError at the record's position.
func (r *record) errorf(field, format string, args ...any) error {
	line := r.line
	if r.lineOf != nil && field != "" {
		if l := r.lineOf(field); l > 0 {
			line = l
		}
	}
	return &ParseError{File: r.file, Line: line, Row: r.row, Field: field, Err: fmt.Errorf(format, args...)}
}

// has reports whether the record has the field (null or not).
func (r *record) has(name string) bool {
	_, ok := r.vals[name]
	return ok
}

// pick returns the first of names that the record has, or an error naming
// them and the fields it has.
func (r *record) pick(names ...string) (string, error) {
	for _, n := range names {
		if r.has(n) {
			return n, nil
		}
	}
	return "", r.errorf(names[0], "missing%s (record has: %s)", alternatives(names), quoteList(r.fields))
}

// str returns a string field; absent and null fields give "".
func (r *record) str(name string) (string, error) {
	v, ok := r.vals[name]
	if !ok || v == nil {
		return "", nil
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case []byte:
		if !utf8.Valid(v) {
			return "", r.errorf(name, "invalid UTF-8")
		}
		return string(v), nil
	}
	return "", r.errorf(name, "want a string, got %s", describe(v))
}

// text returns a string field that must be present and not empty.
func (r *record) text(name string) (string, error) {
	if !r.has(name) {
		return "", r.errorf(name, "missing (record has: %s)", quoteList(r.fields))
	}
	s, err := r.str(name)
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(s) == "" {
		return "", r.errorf(name, "empty")
	}
	return s, nil
}

// int returns an integer field; ok is false for absent, null and empty
// (CSV) fields. In CSV the value is parsed from its text.
func (r *record) int(name string) (n int64, ok bool, err error) {
	v, present := r.vals[name]
	if !present || v == nil {
		return 0, false, nil
	}
	switch v := v.(type) {
	case int64:
		return v, true, nil
	case int32:
		return int64(v), true, nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int64(v), true, nil
		}
	case float32:
		if f := float64(v); f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true, nil
		}
	case string:
		if !r.untyped {
			break
		}
		s := strings.TrimSpace(v)
		if s == "" {
			return 0, false, nil
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true, nil
		}
		// pandas writes integer columns with nulls as floats: "1.0".
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true, nil
		}
	}
	return 0, false, r.errorf(name, "want an integer, got %s", describe(v))
}

// bool returns a boolean field; ok is false for absent, null and empty
// (CSV) fields. In CSV, "true"/"false" (any case) and "1"/"0" are accepted,
// as pandas writes booleans as True/False.
func (r *record) bool(name string) (b, ok bool, err error) {
	v, present := r.vals[name]
	if !present || v == nil {
		return false, false, nil
	}
	switch v := v.(type) {
	case bool:
		return v, true, nil
	case string:
		if !r.untyped {
			break
		}
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "":
			return false, false, nil
		case "true", "1":
			return true, true, nil
		case "false", "0":
			return false, true, nil
		}
	case int64:
		if v == 0 || v == 1 {
			return v == 1, true, nil
		}
	}
	return false, false, r.errorf(name, "want a boolean, got %s", describe(v))
}

// consume removes fields stored verbatim in the Instance from the
// metadata.
func (r *record) consume(names ...string) {
	for _, n := range names {
		delete(r.vals, n)
	}
}

// metadata returns the fields that were not consumed.
func (r *record) metadata() map[string]any {
	if len(r.vals) == 0 {
		return nil
	}
	return r.vals
}

// scalarString formats a scalar field value for comparison with
// user-given label values; ok is false for null and non-scalar values.
func scalarString(v any) (s string, ok bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return strings.TrimSpace(v), true
	case []byte:
		return strings.TrimSpace(string(v)), true
	case bool:
		return strconv.FormatBool(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case int32:
		return strconv.FormatInt(int64(v), 10), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32), true
	}
	return "", false
}

// describe names a value's type and shows a short form of it for error
// messages.
func describe(v any) string {
	var kind string
	switch v.(type) {
	case nil:
		return "null"
	case string:
		kind = "string"
	case bool:
		kind = "boolean"
	case int64, int32, float64, float32:
		kind = "number"
	case []any:
		kind = "array"
	case map[string]any:
		kind = "object"
	default:
		kind = fmt.Sprintf("%T", v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return kind
	}
	s := string(b)
	if len(s) > 40 {
		s = s[:37] + "..."
	}
	return kind + " " + s
}

func quoteList(names []string) string {
	if len(names) == 0 {
		return "no fields"
	}
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

func alternatives(names []string) string {
	if len(names) == 1 {
		return ""
	}
	return " (looked for " + quoteList(names) + ")"
}
