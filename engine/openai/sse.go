package openai

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// sseBufferSize is the size of the line buffer, 16 times bufio's default:
// it holds a chunk of about 30 token entries with 20 top logprobs each.
// Longer lines are still read, by accumulating them in a second buffer.
const sseBufferSize = 64 << 10

// errCutMidLine reports a stream that ended in the middle of a line.
var errCutMidLine = errors.New("stream ended in the middle of an event line")

// Event kinds.
const (
	eventData  = iota // a data event
	eventError        // llama.cpp's non-standard "error:" field
)

// sseReader reads server-sent events (the text/event-stream format of the
// WHATWG HTML standard, §9.2) as used by OpenAI-compatible servers: each
// event is one or more "data:" lines followed by a blank line. Comment lines
// (":" first) and the event, id and retry fields are ignored. llama.cpp
// writes errors as an "error:" field; such events come back with kind
// eventError.
type sseReader struct {
	r    *bufio.Reader
	line []byte // accumulates lines longer than the buffer
	data []byte // data of the event being read
	kind int
	has  bool // data holds at least one field line
	// events counts the events returned.
	events int
}

func newSSEReader(r io.Reader, size int) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, size)}
}

// readLine returns the next line without its line terminator. The line is
// valid until the next call. At the end of the stream it returns io.EOF, or
// errCutMidLine when the last line has no terminator.
func (sr *sseReader) readLine() ([]byte, error) {
	line, err := sr.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		sr.line = append(sr.line[:0], line...)
		for err == bufio.ErrBufferFull {
			line, err = sr.r.ReadSlice('\n')
			sr.line = append(sr.line, line...)
		}
		line = sr.line
	}
	if err != nil {
		if err == io.EOF {
			if len(line) > 0 {
				return nil, errCutMidLine
			}
			return nil, io.EOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// next returns the data of the next event and its kind. The data is valid
// until the next call. At a clean end of the stream it returns io.EOF; a
// final event that lacks its blank line is still returned.
func (sr *sseReader) next() ([]byte, int, error) {
	sr.data = sr.data[:0]
	sr.has = false
	sr.kind = eventData
	for {
		line, err := sr.readLine()
		if err != nil {
			if err == io.EOF && sr.has {
				sr.events++
				return sr.data, sr.kind, nil
			}
			return nil, 0, err
		}
		if len(line) == 0 {
			if sr.has {
				sr.events++
				return sr.data, sr.kind, nil
			}
			continue
		}
		if line[0] == ':' {
			continue
		}
		name, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			name, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(name) {
		case "data":
		case "error":
			sr.kind = eventError
		default:
			continue
		}
		if sr.has {
			sr.data = append(sr.data, '\n')
		}
		sr.data = append(sr.data, value...)
		sr.has = true
	}
}

// isDone reports whether data is the [DONE] sentinel.
func isDone(data []byte) bool {
	return string(bytes.TrimSpace(data)) == "[DONE]"
}

// snippet returns a short printable excerpt of data for error messages:
// the start of data, or, when off ≥ 0, the part around byte offset off.
func snippet(data []byte, off int) string {
	const before, after = 80, 40
	if off < 0 || off > len(data) {
		off = 0
	}
	start, end := max(0, off-before), min(len(data), off+after)
	if off == 0 {
		end = min(len(data), before+after)
	}
	s := fmt.Sprintf("%q", data[start:end])
	if start > 0 {
		s = "…" + s
	}
	if end < len(data) {
		s += "…"
	}
	return s
}
