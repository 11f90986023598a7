package openai

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner walks one JSON document held in buf without building a tree. It is
// the core of the hot path: the chunk parser reads the few fields DeepConf
// needs and skips everything else.
//
// Why not a library: encoding/json rejects the NaN, Infinity and -Infinity
// literals that Python servers can emit (json.dumps with allow_nan=True, the
// default), and reflection-based decoding of 20 top logprobs per token is the
// bottleneck (BenchmarkSSEParseEncodingJSON). The faster drop-in decoders
// (goccy/go-json, bytedance/sonic) follow the strict JSON grammar as well, so
// a library would still need a rewriting pre-pass over every chunk. The
// scanner is lenient where leniency is harmless (it does not validate control
// characters inside strings or the exact grammar of skipped scalars) and
// strict where a silent misread would corrupt a trace: structure, field types
// and numbers.
type scanner struct {
	buf []byte
	pos int
}

// syntaxError is a malformed-JSON error with the byte offset where it was
// found.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("offset %d: %s", e.off, e.msg)
}

// errorOffset returns the byte offset of a syntaxError in err's chain, or -1.
func errorOffset(err error) int {
	var se *syntaxError
	if errors.As(err, &se) {
		return se.off
	}
	return -1
}

func (s *scanner) errorf(format string, args ...any) error {
	return &syntaxError{off: s.pos, msg: fmt.Sprintf(format, args...)}
}

// ws skips white space.
func (s *scanner) ws() {
	if s.pos < len(s.buf) && s.buf[s.pos] > ' ' {
		return // the common case of compact JSON
	}
	for s.pos < len(s.buf) {
		switch s.buf[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// peek skips white space and returns the next byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.pos >= len(s.buf) {
		return 0
	}
	return s.buf[s.pos]
}

// describe names the byte at the current position for error messages.
func (s *scanner) describe() string {
	if s.pos >= len(s.buf) {
		return "end of data"
	}
	return strconv.QuoteRune(rune(s.buf[s.pos]))
}

// literal consumes lit if it comes next.
func (s *scanner) literal(lit string) bool {
	if len(s.buf)-s.pos >= len(lit) && string(s.buf[s.pos:s.pos+len(lit)]) == lit {
		s.pos += len(lit)
		return true
	}
	return false
}

// null consumes a null literal if one comes next.
func (s *scanner) null() bool {
	return s.peek() == 'n' && s.literal("null")
}

// open consumes the opening byte c ('{' or '[') of a composite value.
func (s *scanner) open(c byte, what string) error {
	if s.peek() != c {
		return s.errorf("expected %s, found %s", what, s.describe())
	}
	s.pos++
	return nil
}

// more reports whether the object or array being read (closed by end) has
// another element, consuming the separating comma or the closing byte.
// first must be true before the first element.
func (s *scanner) more(end byte, first *bool) (bool, error) {
	c := s.peek()
	if c == end {
		s.pos++
		return false, nil
	}
	if !*first {
		if c != ',' {
			return false, s.errorf("expected ',' or %q, found %s", end, s.describe())
		}
		s.pos++
		s.ws()
	}
	*first = false
	return true, nil
}

// key reads an object member name and its colon. Member names with escapes
// are returned raw; none of the names the parser looks for contain any.
func (s *scanner) key() ([]byte, error) {
	if s.peek() != '"' {
		return nil, s.errorf("expected object key, found %s", s.describe())
	}
	k, _, err := s.str()
	if err != nil {
		return nil, err
	}
	if s.peek() != ':' {
		return nil, s.errorf("expected ':' after object key, found %s", s.describe())
	}
	s.pos++
	return k, nil
}

// str reads a string at the current position (a '"'), returning its raw
// contents without the quotes, valid as long as buf, and whether it holds
// escape sequences.
func (s *scanner) str() (raw []byte, escaped bool, err error) {
	if s.peek() != '"' {
		return nil, false, s.errorf("expected string, found %s", s.describe())
	}
	s.pos++
	start := s.pos
	// A plain loop: the strings of the hot path (member names, tokens)
	// are a few bytes long, where a call to bytes.IndexByte costs more
	// than it saves.
	for i := start; i < len(s.buf); i++ {
		switch s.buf[i] {
		case '"':
			s.pos = i + 1
			return s.buf[start:i], escaped, nil
		case '\\':
			escaped = true
			i++
		}
	}
	s.pos = len(s.buf)
	return nil, false, s.errorf("unterminated string")
}

// appendStr reads a string or null and appends its unescaped value to dst.
func (s *scanner) appendStr(dst []byte) ([]byte, error) {
	if s.null() {
		return dst, nil
	}
	raw, esc, err := s.str()
	if err != nil {
		return dst, err
	}
	if !esc {
		return append(dst, raw...), nil
	}
	return appendUnescaped(dst, raw), nil
}

// appendUnescaped appends the decoded form of the raw string contents raw
// (which holds escapes) to dst. Invalid escapes and unpaired surrogates
// become U+FFFD, as in encoding/json.
func appendUnescaped(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := bytes.IndexByte(raw[i:], '\\')
			if j < 0 {
				return append(dst, raw[i:]...)
			}
			dst = append(dst, raw[i:i+j]...)
			i += j
			continue
		}
		if i+1 >= len(raw) {
			return utf8.AppendRune(dst, utf8.RuneError)
		}
		switch e := raw[i+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
			i += 2
		case 'b':
			dst = append(dst, '\b')
			i += 2
		case 'f':
			dst = append(dst, '\f')
			i += 2
		case 'n':
			dst = append(dst, '\n')
			i += 2
		case 'r':
			dst = append(dst, '\r')
			i += 2
		case 't':
			dst = append(dst, '\t')
			i += 2
		case 'u':
			r, ok := hex4(raw[i+2:])
			if !ok {
				dst = utf8.AppendRune(dst, utf8.RuneError)
				i += 2
				continue
			}
			i += 6
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, ok = hex4(raw[i+2:])
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = utf8.AppendRune(dst, utf8.RuneError)
			i += 2
		}
	}
	return dst
}

// hex4 decodes the four hex digits at the start of b.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// isNumByte reports whether c can appear in a JSON number.
func isNumByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '.' || c == 'e' || c == 'E' || c == '+'
}

// num reads a number. Besides JSON numbers it accepts the literals NaN,
// Infinity and -Infinity written by Python's json module, and null, which it
// returns as NaN with isNull set.
func (s *scanner) num() (v float64, isNull bool, err error) {
	switch s.peek() {
	case 'n':
		if s.literal("null") {
			return math.NaN(), true, nil
		}
	case 'N':
		if s.literal("NaN") {
			return math.NaN(), false, nil
		}
	case 'I':
		if s.literal("Infinity") {
			return math.Inf(1), false, nil
		}
	case '-':
		if s.literal("-Infinity") {
			return math.Inf(-1), false, nil
		}
	}
	start := s.pos
	for s.pos < len(s.buf) && isNumByte(s.buf[s.pos]) {
		s.pos++
	}
	if start == s.pos {
		return 0, false, s.errorf("expected number, found %s", s.describe())
	}
	v, perr := strconv.ParseFloat(string(s.buf[start:s.pos]), 64)
	if perr != nil {
		s.pos = start
		return 0, false, s.errorf("bad number %q", s.buf[start:min(len(s.buf), start+32)])
	}
	return v, false, nil
}

// int reads an integer that fits in an int64 (a plain JSON integer; a
// fraction or exponent is an error).
func (s *scanner) int() (int64, error) {
	s.ws()
	start := s.pos
	neg := false
	if s.pos < len(s.buf) && s.buf[s.pos] == '-' {
		neg = true
		s.pos++
	}
	var v uint64
	digits := 0
	for s.pos < len(s.buf) {
		c := s.buf[s.pos]
		if c < '0' || c > '9' {
			break
		}
		if v > (math.MaxInt64-9)/10 {
			s.pos = start
			return 0, s.errorf("integer out of range")
		}
		v = v*10 + uint64(c-'0')
		digits++
		s.pos++
	}
	if digits == 0 || s.pos < len(s.buf) && isNumByte(s.buf[s.pos]) {
		s.pos = start
		return 0, s.errorf("expected integer, found %s", s.describe())
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

// skip skips one value of any type.
func (s *scanner) skip() error {
	switch c := s.peek(); c {
	case 0:
		return s.errorf("expected value, found end of data")
	case '"':
		_, _, err := s.str()
		return err
	case '{', '[':
		return s.skipComposite()
	case ',', ':', '}', ']':
		return s.errorf("expected value, found %s", s.describe())
	default:
		start := s.pos
		for s.pos < len(s.buf) {
			switch s.buf[s.pos] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return nil
			case '"', '{', '[', ':':
				if s.pos == start {
					return s.errorf("expected value, found %s", s.describe())
				}
				return nil
			}
			s.pos++
		}
		return nil
	}
}

// skipNumbers skips an array that holds only numbers, such as the bytes
// member of a token entry, and falls back to skipComposite for anything
// else.
func (s *scanner) skipNumbers() error {
	if s.peek() != '[' {
		return s.skip()
	}
	start := s.pos
	for i := start + 1; i < len(s.buf); i++ {
		c := s.buf[i]
		switch {
		case c == ']':
			s.pos = i + 1
			return nil
		case '0' <= c && c <= '9' || c == ',' || c == '-' || c == ' ':
		default:
			return s.skipComposite()
		}
	}
	return s.skipComposite()
}

// skipComposite skips an object or array, checking that brackets balance.
func (s *scanner) skipComposite() error {
	var stack [64]byte
	depth := 0
	for s.pos < len(s.buf) {
		switch c := s.buf[s.pos]; c {
		case '"':
			if _, _, err := s.str(); err != nil {
				return err
			}
			continue
		case '{', '[':
			if depth == len(stack) {
				return s.errorf("nesting deeper than %d levels", len(stack))
			}
			stack[depth] = c + 2 // '{'+2 == '}', '['+2 == ']'
			depth++
		case '}', ']':
			if depth == 0 || stack[depth-1] != c {
				return s.errorf("unbalanced %q", c)
			}
			depth--
			if depth == 0 {
				s.pos++
				return nil
			}
		}
		s.pos++
	}
	return s.errorf("unexpected end of data inside a value")
}

// end checks that only white space is left.
func (s *scanner) end() error {
	if s.peek() != 0 {
		return s.errorf("unexpected %s after the JSON value", s.describe())
	}
	return nil
}
