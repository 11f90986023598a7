package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxLine bounds one line of a run file (a trace with its per-token arrays
// and a long text).
const maxLine = 256 << 20

// lineReader reads the lines of a run file (traces.jsonl,
// predictions.jsonl) for every reader in this package: Open's recovery,
// Merge, and the readers of the analysis. It skips blank lines and applies
// the one rule for the end of a file:
//
// A line is complete when it ends with a newline. The bytes after the last
// newline are a complete last line only when they are a whole JSON object
// (a file written by another tool may lack the final newline); otherwise
// they are a partial line, what a crash or a writer still at work leaves:
// it is never returned, and Partial reports its size.
type lineReader struct {
	r    *bufio.Reader
	ctx  context.Context
	path string
	big  []byte
	pos  int64

	// After next returns true:
	line       []byte // without its newline; valid until the next call
	num        int    // 1-based line number
	off        int64  // offset of the line in the file
	size       int    // bytes of the line, with its newline
	terminated bool   // the line ends with a newline

	// After next returns false:
	partial int   // bytes of a partial last line (0: none)
	err     error // nil at the end of the file
}

func newLineReader(ctx context.Context, r io.Reader, path string) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 1<<20), ctx: ctx, path: path}
}

// next advances to the next non-blank complete line. It returns false at
// the end of the file or on an error (lr.err).
func (lr *lineReader) next() bool {
	for {
		lr.num++
		if lr.num%4096 == 0 {
			if err := lr.ctx.Err(); err != nil {
				lr.err = err
				return false
			}
		}
		line, err := lr.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			lr.big = append(lr.big[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				if len(lr.big) > maxLine {
					lr.err = fmt.Errorf("%s:%d: line longer than %d MiB", lr.path, lr.num, maxLine>>20)
					return false
				}
				line, err = lr.r.ReadSlice('\n')
				lr.big = append(lr.big, line...)
			}
			line = lr.big
		}
		lr.off, lr.size = lr.pos, len(line)
		lr.pos += int64(len(line))
		switch {
		case err == io.EOF:
			if len(line) == 0 {
				return false
			}
			if !wholeObject(line) {
				lr.partial = len(line)
				return false
			}
			lr.line, lr.terminated = line, false
		case err != nil:
			lr.err = fmt.Errorf("read %s: %w", lr.path, err)
			return false
		default:
			lr.line, lr.terminated = line[:len(line)-1], true
		}
		if len(bytes.TrimSpace(lr.line)) > 0 {
			return true
		}
	}
}

// wholeObject reports whether b is one JSON object (spaces around it
// allowed): the test of the last line of a file without a final newline.
// A truncated object is never one.
func wholeObject(b []byte) bool {
	t := bytes.TrimSpace(b)
	return len(t) > 0 && t[0] == '{' && json.Valid(t)
}
