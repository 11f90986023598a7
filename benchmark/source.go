package benchmark

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// source yields the data rows of one file, one at a time.
type source interface {
	// columns returns the header (CSV, Parquet) or nil when the format has
	// no header (JSONL).
	columns() []string
	// next returns the next row, or io.EOF after the last one.
	next() (*record, error)
	close() error
}

// openSource opens path as a source of the given format (detected from the
// name when FormatAuto).
func openSource(path string, format Format) (source, error) {
	if format == FormatAuto {
		f, err := DetectFormat(path)
		if err != nil {
			return nil, err
		}
		format = f
	}
	switch format {
	case FormatCSV, FormatTSV:
		rc, err := openText(path)
		if err != nil {
			return nil, err
		}
		comma := ','
		if format == FormatTSV {
			comma = '\t'
		}
		s, err := newCSVSource(path, rc, comma, func() (io.ReadCloser, error) { return openText(path) })
		if err != nil {
			rc.Close()
			return nil, err
		}
		return s, nil
	case FormatJSONL:
		rc, err := openText(path)
		if err != nil {
			return nil, err
		}
		return newJSONLSource(path, rc), nil
	case FormatParquet:
		return openParquetSource(path)
	}
	return nil, fmt.Errorf("%s: unknown format %q", path, format)
}

// readRows reads every row of src, converting each with convert, and
// checks the context every 256 rows.
func readRows(ctx context.Context, src source, convert func(*record) (Instance, error)) ([]Instance, error) {
	var out []Instance
	for i := 0; ; i++ {
		if i%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := src.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		in, err := convert(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
}

// checkColumns reports the first group of alternatives of which no column
// is in the header, listing the columns the file has.
func checkColumns(file string, header []string, required [][]string) error {
	if header == nil {
		return nil
	}
	have := make(map[string]bool, len(header))
	for _, h := range header {
		have[h] = true
	}
	for _, alts := range required {
		found := false
		for _, a := range alts {
			if have[a] {
				found = true
				break
			}
		}
		if !found {
			return &ParseError{File: file, Line: 0, Row: -1, Field: alts[0],
				Err: fmt.Errorf("missing column%s (available: %s)", alternatives(alts), quoteList(header))}
		}
	}
	return nil
}

// csvSource reads CSV or TSV with a header row.
type csvSource struct {
	file   string
	rc     io.ReadCloser
	r      *csv.Reader
	comma  rune
	header []string
	index  map[string]int
	row    int
	reopen func() (io.ReadCloser, error)
}

func newCSVSource(file string, rc io.ReadCloser, comma rune, reopen func() (io.ReadCloser, error)) (*csvSource, error) {
	r := csv.NewReader(rc)
	r.Comma = comma
	r.ReuseRecord = true
	s := &csvSource{file: file, rc: rc, r: r, comma: comma, reopen: reopen}
	header, err := r.Read()
	if err == io.EOF {
		return nil, &ParseError{File: file, Row: -1, Err: ErrNoRows}
	}
	if err != nil {
		return nil, s.csvError(err, 0, nil)
	}
	s.header = make([]string, len(header))
	s.index = make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff") // UTF-8 byte-order mark
		}
		if !utf8.ValidString(h) {
			return nil, &ParseError{File: file, Line: 1, Row: -1, Err: fmt.Errorf("header column %d: invalid UTF-8", i+1)}
		}
		if _, dup := s.index[h]; dup {
			return nil, &ParseError{File: file, Line: 1, Row: -1, Field: h, Err: errors.New("duplicate column in header")}
		}
		s.header[i] = h
		s.index[h] = i
	}
	return s, nil
}

func (s *csvSource) columns() []string { return s.header }

func (s *csvSource) close() error { return s.rc.Close() }

func (s *csvSource) next() (*record, error) {
	start := s.r.InputOffset()
	fields, err := s.r.Read()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, s.csvError(err, start, fields)
	}
	lines := make([]int, len(fields))
	vals := make(map[string]any, len(fields))
	for i, v := range fields {
		lines[i], _ = s.r.FieldPos(i)
		if !utf8.ValidString(v) {
			return nil, &ParseError{File: s.file, Line: lines[i], Row: s.row, Field: s.header[i], Err: errors.New("invalid UTF-8")}
		}
		vals[s.header[i]] = strings.Clone(v) // so that a kept value does not pin the whole record
	}
	rec := &record{
		file:    s.file,
		line:    lines[0],
		row:     s.row,
		fields:  s.header,
		vals:    vals,
		untyped: true,
		lineOf: func(f string) int {
			if i, ok := s.index[f]; ok {
				return lines[i]
			}
			return 0
		},
	}
	s.row++
	return rec, nil
}

// csvError converts an encoding/csv error to a *ParseError naming the
// field. start is the input offset of the record that failed.
func (s *csvSource) csvError(err error, start int64, fields []string) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return &ParseError{File: s.file, Row: -1, Err: err}
	}
	row := s.row
	if s.header == nil {
		row = -1
	}
	if errors.Is(pe.Err, csv.ErrFieldCount) {
		msg := fmt.Sprintf("has %d fields, header has %d", len(fields), len(s.header))
		if len(fields) < len(s.header) {
			msg += "; missing " + quoteList(s.header[len(fields):])
		}
		return &ParseError{File: s.file, Line: pe.StartLine, Row: row, Err: errors.New(msg)}
	}
	field := ""
	if i := s.fieldAt(start, pe); i >= 0 {
		if s.header != nil && i < len(s.header) {
			field = s.header[i]
		} else {
			field = fmt.Sprintf("column %d", i+1)
		}
	}
	return &ParseError{File: s.file, Line: pe.Line, Row: row, Field: field,
		Err: fmt.Errorf("%w (record starts on line %d, error at column %d)", pe.Err, pe.StartLine, pe.Column)}
}

// fieldAt finds the 0-based index of the field in which a CSV parse error
// occurred by re-reading the failing record from the start of the file;
// encoding/csv reports only the line and column. It runs only on the error
// path. It returns -1 when the position cannot be found.
func (s *csvSource) fieldAt(start int64, pe *csv.ParseError) int {
	if s.reopen == nil {
		return -1
	}
	rc, err := s.reopen()
	if err != nil {
		return -1
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, start); err != nil {
		return -1
	}
	br := bufio.NewReader(rc)
	line, col := pe.StartLine, 1
	field := 0
	inQuotes, fieldStart := false, true
	for {
		if line > pe.Line || (line == pe.Line && col >= pe.Column) {
			return field
		}
		c, err := br.ReadByte()
		if err != nil {
			return field // the error is at the end of the input
		}
		switch {
		case inQuotes:
			if c == '"' {
				if n, err := br.Peek(1); err == nil && n[0] == '"' {
					br.ReadByte()
					col++
				} else {
					inQuotes = false
				}
			}
			fieldStart = false
		case rune(c) == s.comma:
			field++
			fieldStart = true
		case c == '"' && fieldStart:
			inQuotes = true
			fieldStart = false
		case c == '\n':
			return field // end of an unquoted record before the position
		default:
			fieldStart = false
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
}

// jsonlSource reads one JSON object per line.
type jsonlSource struct {
	file string
	rc   io.ReadCloser
	br   *bufio.Reader
	line int
	row  int
}

func newJSONLSource(file string, rc io.ReadCloser) *jsonlSource {
	return &jsonlSource{file: file, rc: rc, br: bufio.NewReaderSize(rc, 64<<10)}
}

func (s *jsonlSource) columns() []string { return nil }

func (s *jsonlSource) close() error { return s.rc.Close() }

func (s *jsonlSource) next() (*record, error) {
	for {
		b, err := s.br.ReadBytes('\n')
		if len(b) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if err != nil && err != io.EOF {
			return nil, &ParseError{File: s.file, Line: s.line + 1, Row: s.row, Err: err}
		}
		s.line++
		if s.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\ufeff")) // UTF-8 byte-order mark
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue // blank line
		}
		rec, perr := s.parse(b)
		if perr != nil {
			return nil, perr
		}
		s.row++
		return rec, nil
	}
}

// parse decodes one line as a JSON object. Well-formed lines take a fast
// path; anything else is decoded again key by key so that the error names
// the field.
func (s *jsonlSource) parse(b []byte) (*record, error) {
	if vals, fields, ok := decodeObject(b); ok {
		return &record{file: s.file, line: s.line, row: s.row, fields: fields, vals: vals}, nil
	}
	return s.parseSlow(b)
}

// decodeObject decodes b as one JSON object with valid UTF-8, no duplicate
// keys and nothing after it; ok is false otherwise. The fields are the
// keys in sorted order.
func decodeObject(b []byte) (vals map[string]any, fields []string, ok bool) {
	if !utf8.Valid(b) {
		return nil, nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&vals); err != nil || vals == nil {
		return nil, nil, false
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) != 0 || topLevelKeys(b) != len(vals) {
		return nil, nil, false
	}
	fields = make([]string, 0, len(vals))
	for k, v := range vals {
		vals[k] = normalizeJSON(v)
		fields = append(fields, k)
	}
	slices.Sort(fields)
	return vals, fields, true
}

// topLevelKeys counts the keys of the outermost object in b, which must be
// valid JSON; a count above the decoded map's size means duplicate keys.
func topLevelKeys(b []byte) int {
	n, depth := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 1:
			n++
		}
	}
	return n
}

// parseSlow decodes one line as a JSON object key by key so that errors
// name the field.
func (s *jsonlSource) parseSlow(b []byte) (*record, error) {
	fail := func(field, format string, args ...any) error {
		return &ParseError{File: s.file, Line: s.line, Row: s.row, Field: field, Err: fmt.Errorf(format, args...)}
	}
	// encoding/json silently replaces invalid UTF-8 with U+FFFD, so find it
	// first and name the field that contains it below.
	badAt := int64(-1)
	if !utf8.Valid(b) {
		badAt = int64(firstInvalidUTF8(b))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, fail("", "invalid JSON: %v", jsonErr(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fail("", "want a JSON object, got %s", tokenKind(tok))
	}
	vals := make(map[string]any)
	var fields []string
	prev := ""
	for dec.More() {
		keyStart := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, fail(prev, "invalid JSON after this field: %v", jsonErr(err))
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fail(prev, "invalid JSON after this field: want a key, got %s", tokenKind(tok))
		}
		if badAt >= 0 && badAt >= keyStart && badAt < dec.InputOffset() {
			return nil, fail(key, "invalid UTF-8 in the field name")
		}
		if _, dup := vals[key]; dup {
			return nil, fail(key, "duplicate field")
		}
		valStart := dec.InputOffset()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fail(key, "invalid JSON value: %v", jsonErr(err))
		}
		if badAt >= 0 && badAt >= valStart && badAt < dec.InputOffset() {
			return nil, fail(key, "invalid UTF-8")
		}
		vals[key] = normalizeJSON(v)
		fields = append(fields, key)
		prev = key
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return nil, fail(prev, "invalid JSON: %v", jsonErr(err))
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return nil, fail("", "invalid JSON after the object: %v", jsonErr(err))
		}
		return nil, fail("", "unexpected %s after the object (one JSON object per line)", tokenKind(tok))
	}
	if badAt >= 0 {
		return nil, fail("", "invalid UTF-8")
	}
	return &record{file: s.file, line: s.line, row: s.row, fields: fields, vals: vals}, nil
}

// firstInvalidUTF8 returns the offset of the first invalid UTF-8 sequence
// in b.
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// normalizeJSON converts json.Number to int64 when integral and float64
// otherwise, recursively.
func normalizeJSON(v any) any {
	switch v := v.(type) {
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return n
		}
		if f, err := v.Float64(); err == nil {
			return f
		}
		return v.String()
	case []any:
		for i := range v {
			v[i] = normalizeJSON(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = normalizeJSON(v[k])
		}
	}
	return v
}

func jsonErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("unexpected end of line")
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("%v (at byte %d)", se, se.Offset)
	}
	return err
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			return "an array"
		case '{':
			return "an object"
		}
		return fmt.Sprintf("%q", rune(t))
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", tok)
}

// parquetSource reads the rows of a Parquet file; nested and repeated
// columns are read as map[string]any and []any values.
type parquetSource struct {
	file   string
	f      *os.File
	r      *parquet.Reader
	header []string
	row    int
}

func openParquetSource(path string) (s *parquetSource, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	// parquet-go validates the footer and metadata here; the recover
	// guards against decoder panics on corrupt input.
	var pf *parquet.File
	if err := protect(func() error {
		var err error
		pf, err = parquet.OpenFile(f, st.Size())
		return err
	}); err != nil {
		return nil, &ParseError{File: path, Row: -1, Err: fmt.Errorf("not a readable Parquet file: %w", err)}
	}
	s = &parquetSource{file: path, f: f}
	for _, field := range pf.Schema().Fields() {
		s.header = append(s.header, field.Name())
	}
	if err := protect(func() error {
		s.r = parquet.NewReader(pf)
		return nil
	}); err != nil {
		return nil, &ParseError{File: path, Row: -1, Err: fmt.Errorf("not a readable Parquet file: %w", err)}
	}
	return s, nil
}

func (s *parquetSource) columns() []string { return s.header }

func (s *parquetSource) close() error { return s.f.Close() }

func (s *parquetSource) next() (*record, error) {
	m := make(map[string]any, len(s.header))
	err := protect(func() error { return s.r.Read(&m) })
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, &ParseError{File: s.file, Row: s.row, Err: fmt.Errorf("read Parquet row: %w", err)}
	}
	vals := make(map[string]any, len(s.header))
	for _, h := range s.header {
		v := m[h]
		if !validUTF8(v) {
			return nil, &ParseError{File: s.file, Row: s.row, Field: h, Err: errors.New("invalid UTF-8")}
		}
		vals[h] = v
	}
	rec := &record{file: s.file, row: s.row, fields: s.header, vals: vals}
	s.row++
	return rec, nil
}

// validUTF8 reports whether every string in v, a value read from Parquet
// (nested columns give maps and slices), is valid UTF-8.
func validUTF8(v any) bool {
	switch v := v.(type) {
	case string:
		return utf8.ValidString(v)
	case []any:
		for _, e := range v {
			if !validUTF8(e) {
				return false
			}
		}
	case map[string]any:
		for k, e := range v {
			if !utf8.ValidString(k) || !validUTF8(e) {
				return false
			}
		}
	}
	return true
}

// protect runs f and converts a panic in it into an error. It is used only
// around the third-party Parquet decoder, which may panic on corrupt
// input; the package itself never panics on bad input.
func protect(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt data: %v", p)
		}
	}()
	return f()
}
