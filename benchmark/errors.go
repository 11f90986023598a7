package benchmark

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNoRows is the error (in a ParseError) of a benchmark file without any
// data row, whatever its format: an empty file, a CSV with a header only, a
// JSONL of blank lines, a Parquet file of no rows.
var ErrNoRows = errors.New("no data rows: the file holds no instances")

// ParseError reports malformed benchmark input: the file, the position in
// it and the field.
type ParseError struct {
	// File is the path of the input file.
	File string
	// Line is the 1-based line of a CSV or JSONL input (for CSV, the line
	// where the offending field starts); 0 for Parquet and for errors
	// about the whole file.
	Line int
	// Row is the 0-based data row (the Index of the instance it would
	// have become), or -1 for errors about the whole file or its header.
	Row int
	// Field is the name of the offending field, if known.
	Field string
	// Err is the underlying error.
	Err error
}

// Error formats the error as "file:line: row R: field "f": message".
func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Row >= 0 {
		fmt.Fprintf(&b, ": row %d", e.Row)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
