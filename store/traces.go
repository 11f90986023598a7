package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/deepconf/deepconf/internal/jsonline"
	"github.com/deepconf/deepconf/record"
)

// TraceFields selects the bulky fields of a trace that ScanTraces decodes;
// the others are skipped without being decoded and read as nil or "". The
// per-token arrays are most of a traces file (256 tokens are about 5 KB of
// JSON a trace), so a scan that skips them is several times faster.
type TraceFields uint8

// Trace fields.
const (
	// TraceText is Text.
	TraceText TraceFields = 1 << iota
	// TraceTokenConfidences are TokenConfidences and TokenOK.
	TraceTokenConfidences
	// TraceTokenLogprobs is TokenLogprobs.
	TraceTokenLogprobs

	// TraceSummary decodes none of the bulky fields.
	TraceSummary TraceFields = 0
	// TraceAll decodes every field.
	TraceAll = TraceText | TraceTokenConfidences | TraceTokenLogprobs
)

// ScanOptions configure ScanTraces.
type ScanOptions struct {
	// Fields are the bulky fields to decode.
	Fields TraceFields
	// Workers is the number of goroutines that decode lines (0:
	// GOMAXPROCS).
	Workers int
}

// ScanTraces streams the traces file at path, calling fn on the calling
// goroutine with each trace in file order; line is the 1-based line
// number. Lines are decoded on o.Workers goroutines, at most about
// 2·o.Workers chunks of 1 MB at a time. Blank lines and a partial last line
// are skipped. The trace is fn's to keep until fn returns; its slices and
// strings stay valid after that.
func ScanTraces(ctx context.Context, path string, o ScanOptions, fn func(line int, t *record.Trace) error) error {
	return ScanTracesWith(ctx, path, o, nil, func(line int, t *record.Trace, _ struct{}) error { return fn(line, t) })
}

// ScanTracesWith is ScanTraces with a step of the caller's on the decoding
// goroutines: prepare (if not nil) is called with each decoded trace, may
// change it (drop a field it no longer needs, say), and its result is
// handed to fn with the trace. A prepare error is reported with the file
// and line.
func ScanTracesWith[T any](ctx context.Context, path string, o ScanOptions, prepare func(t *record.Trace) (T, error),
	fn func(line int, t *record.Trace, v T) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read traces: %w", err)
	}
	defer f.Close()
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// The lines are read into chunks of about chunkBytes, decoded by the
	// workers and handed to fn in order. A fixed set of chunks is
	// recycled, so that the memory stays bounded and a fast reader does
	// not outpace the garbage collector.
	type parsed struct {
		line int
		t    record.Trace
		v    T
	}
	type chunk struct {
		buf     []byte
		lines   []int    // line numbers
		data    [][]byte // the lines, in buf
		traces  []parsed
		err     error
		errLine int
		done    chan struct{}
	}
	n := 2*workers + 2
	free := make(chan *chunk, n)
	for range n {
		free <- &chunk{buf: make([]byte, 0, chunkBytes), done: make(chan struct{}, 1)}
	}
	work := make(chan *chunk, n)
	order := make(chan *chunk, n)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			p := traceParser{fields: o.Fields}
			var zero T
			for c := range work {
				c.traces = slices.Grow(c.traces[:0], len(c.data))[:len(c.data)]
				c.err = ctx.Err()
				for k, b := range c.data {
					if c.err != nil {
						c.traces = c.traces[:k]
						break
					}
					pt := &c.traces[k]
					pt.line, pt.v = c.lines[k], zero
					c.err = p.parse(b, &pt.t)
					if c.err == nil && prepare != nil {
						pt.v, c.err = prepare(&pt.t)
					}
					if c.err != nil {
						c.traces, c.errLine = c.traces[:k], pt.line
					}
				}
				c.done <- struct{}{}
			}
		})
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(work)
		var cur *chunk
		// next takes a free chunk as cur.
		next := func() bool {
			select {
			case cur = <-free:
				return true
			case <-ctx.Done():
				return false
			}
		}
		// emit hands cur to the workers, in order.
		emit := func() bool {
			c := cur
			cur = nil
			order <- c // never blocks: the chunks are fewer than its capacity
			work <- c
			return ctx.Err() == nil
		}
		lr := newLineReader(ctx, f, path)
		for lr.next() {
			if cur == nil && !next() {
				readErr <- ctx.Err()
				return
			}
			if len(cur.buf)+len(lr.line) > cap(cur.buf) {
				// Lines stay where they are in buf: start the next
				// chunk, with a buffer of its own for a long line.
				if len(cur.data) > 0 && (!emit() || !next()) {
					readErr <- ctx.Err()
					return
				}
				if len(lr.line) > cap(cur.buf) {
					cur.buf = make([]byte, 0, len(lr.line))
				}
			}
			cur.buf = append(cur.buf, lr.line...)
			cur.data = append(cur.data, cur.buf[len(cur.buf)-len(lr.line):len(cur.buf):len(cur.buf)])
			cur.lines = append(cur.lines, lr.num)
			if len(cur.buf) >= chunkBytes && !emit() {
				readErr <- ctx.Err()
				return
			}
		}
		if cur != nil && len(cur.data) > 0 && lr.err == nil && !emit() {
			readErr <- ctx.Err()
			return
		}
		readErr <- lr.err
	}()
	var firstErr error
	for c := range order {
		if firstErr != nil {
			continue
		}
		select {
		case <-c.done:
		case <-ctx.Done():
			firstErr = ctx.Err()
			cancel()
			continue
		}
		for i := range c.traces {
			pt := &c.traces[i]
			if err := fn(pt.line, &pt.t, pt.v); err != nil {
				firstErr = err
				break
			}
		}
		if firstErr == nil && c.err != nil {
			firstErr = c.err
			if !errors.Is(c.err, context.Canceled) && !errors.Is(c.err, context.DeadlineExceeded) {
				firstErr = fmt.Errorf("%s:%d: %w", path, c.errLine, c.err)
			}
		}
		if firstErr != nil {
			cancel()
			continue
		}
		if cap(c.buf) > chunkBytes {
			c.buf = make([]byte, 0, chunkBytes) // let a long line's buffer go
		}
		c.buf, c.lines, c.data = c.buf[:0], c.lines[:0], c.data[:0]
		free <- c
	}
	wg.Wait()
	if err := <-readErr; err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// chunkBytes is the size of a chunk of trace lines handed to a decoding
// goroutine.
const chunkBytes = 1 << 20

// Keys of the bulky fields of a trace line, in the order deepconf writes
// them.
var (
	keyText     = []byte(`"text":`)
	keyConfs    = []byte(`"token_confidences":`)
	keyOK       = []byte(`"token_ok":`)
	keyLogprobs = []byte(`"token_logprobs":`)
)

// traceParser decodes trace lines. The per-token arrays are cut out of the
// line and parsed by a dedicated float32 scanner, the fields not wanted are
// cut out without being parsed, and encoding/json decodes the rest. The
// first occurrence of a bulky field is the one read: a line that repeats a
// key (which no writer of traces does) may decode otherwise than with
// encoding/json, where the last one wins. A traceParser is not safe for
// concurrent use.
type traceParser struct {
	fields TraceFields
	spans  []jsonline.Span
	f32    []float32
	bools  []bool
}

// parse decodes one non-blank line into t. It modifies b (the cut-out
// values are replaced by null). The trace owns its slices and strings.
func (p *traceParser) parse(b []byte, t *record.Trace) error {
	p.spans = p.spans[:0]
	from := 0
	// cut finds key's value, which must be open ('[' or '"') or null, and
	// marks it to be cut out; found is false for a missing or null value.
	cut := func(key []byte, open byte, name string) (s jsonline.Span, found bool, err error) {
		j := jsonline.FindValue(b, key, from)
		if j < 0 || bytes.HasPrefix(b[j:], []byte("null")) {
			return s, false, nil
		}
		if j >= len(b) || b[j] != open {
			want := "an array"
			if open == '"' {
				want = "a string"
			}
			return s, false, fmt.Errorf("field %s: want %s, got %.20q", name, want, b[j:])
		}
		end := jsonline.ValueEnd(b, j)
		if end < 0 || (open == '[' && bytes.IndexByte(b[j:end], '"') >= 0) {
			return s, false, fmt.Errorf("field %s: malformed or unterminated value", name)
		}
		s = jsonline.Span{Lo: j, Hi: end}
		p.spans = append(p.spans, s)
		from = end
		return s, true, nil
	}
	if p.fields&TraceText == 0 {
		if _, _, err := cut(keyText, '"', "text"); err != nil {
			return err
		}
	}
	// The per-token arrays, in the order deepconf writes them; the
	// wanted ones that are found are parsed here.
	wantConfs, wantLogprobs := p.fields&TraceTokenConfidences != 0, p.fields&TraceTokenLogprobs != 0
	var confs, lps []float32
	var ok []bool
	s, foundConfs, err := cut(keyConfs, '[', "token_confidences")
	if err == nil && foundConfs && wantConfs {
		if confs, err = p.floats(b[s.Lo:s.Hi]); err != nil {
			err = fmt.Errorf("field token_confidences: %w", err)
		}
	}
	if err != nil {
		return err
	}
	s, foundOK, err := cut(keyOK, '[', "token_ok")
	if err == nil && foundOK && wantConfs {
		if ok, err = p.boolArray(b[s.Lo:s.Hi]); err != nil {
			err = fmt.Errorf("field token_ok: %w", err)
		}
	}
	if err != nil {
		return err
	}
	s, foundLogprobs, err := cut(keyLogprobs, '[', "token_logprobs")
	if err == nil && foundLogprobs && wantLogprobs {
		if lps, err = p.floats(b[s.Lo:s.Hi]); err != nil {
			err = fmt.Errorf("field token_logprobs: %w", err)
		}
	}
	if err != nil {
		return err
	}
	*t = record.Trace{}
	if err := json.Unmarshal(jsonline.NullSpans(b, p.spans), t); err != nil {
		return describeJSONError(err)
	}
	if t.InstanceID == "" {
		return errors.New("field instance_id: missing or empty")
	}
	// Fields not wanted read as empty. A wanted value that was found is
	// set from its parse (a value too short to be cut out was decoded as
	// well); one that was not is what encoding/json decoded, if anything
	// (a key spelled in another case).
	if p.fields&TraceText == 0 {
		t.Text = ""
	}
	switch {
	case !wantConfs:
		t.TokenConfidences, t.TokenOK = nil, nil
	default:
		if foundConfs {
			t.TokenConfidences = confs
		}
		if foundOK {
			t.TokenOK = ok
		}
	}
	switch {
	case !wantLogprobs:
		t.TokenLogprobs = nil
	case foundLogprobs:
		t.TokenLogprobs = lps
	}
	if p.fields&TraceTokenConfidences != 0 && len(t.TokenOK) != 0 && len(t.TokenOK) != len(t.TokenConfidences) {
		return fmt.Errorf("field token_ok: %d flags for %d token confidences", len(t.TokenOK), len(t.TokenConfidences))
	}
	if p.fields&(TraceTokenConfidences|TraceTokenLogprobs) == TraceTokenConfidences|TraceTokenLogprobs && len(t.TokenLogprobs) != len(t.TokenConfidences) {
		return fmt.Errorf("field token_logprobs: %d log-probabilities for %d token confidences", len(t.TokenLogprobs), len(t.TokenConfidences))
	}
	return nil
}

// elements calls fn with each comma-separated element of the array value
// v ("[...]"), spaces trimmed.
func elements(v []byte, fn func(i int, e []byte) error) error {
	inner := bytes.TrimSpace(v[1 : len(v)-1])
	if len(inner) == 0 {
		return nil
	}
	for i := 0; ; i++ {
		k := bytes.IndexByte(inner, ',')
		e := inner
		if k >= 0 {
			e = inner[:k]
		}
		if err := fn(i, bytes.TrimSpace(e)); err != nil {
			return err
		}
		if k < 0 {
			return nil
		}
		inner = inner[k+1:]
	}
}

// floats parses an array of JSON numbers into a new []float32. encoding/json
// writes a float32 with the shortest decimal that round-trips at 32 bits,
// so parsing at 32 bits restores the stored value exactly (as encoding/json
// does when it decodes into a float32).
func (p *traceParser) floats(v []byte) ([]float32, error) {
	p.f32 = p.f32[:0]
	err := elements(v, func(i int, e []byte) error {
		if !jsonline.IsNumber(e) {
			return fmt.Errorf("element %d: %q is not a float32 number", i, e)
		}
		x, err := strconv.ParseFloat(string(e), 32)
		if err != nil {
			return fmt.Errorf("element %d: %q is not a float32 number", i, e)
		}
		p.f32 = append(p.f32, float32(x))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(make([]float32, 0, len(p.f32)), p.f32...), nil
}

// boolArray parses an array of JSON booleans into a new []bool.
func (p *traceParser) boolArray(v []byte) ([]bool, error) {
	p.bools = p.bools[:0]
	err := elements(v, func(i int, e []byte) error {
		switch string(e) {
		case "true":
			p.bools = append(p.bools, true)
		case "false":
			p.bools = append(p.bools, false)
		default:
			return fmt.Errorf("element %d: %q is not a boolean", i, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(make([]bool, 0, len(p.bools)), p.bools...), nil
}
