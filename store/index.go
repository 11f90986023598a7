package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/deepconf/deepconf/record"
)

// head is what the index reads of a prediction or trace line.
type head struct {
	ID    string
	Index *int
}

// parseHead checks that line is one valid JSON object and reads its
// instance_id and index. deepconf writes them first, so the decoder stops
// after a few bytes; the validity check is one fast scan of the line.
func parseHead(line []byte) (head, error) {
	var h head
	if !json.Valid(line) {
		// Unmarshal says where the line goes wrong.
		var v any
		if err := json.Unmarshal(line, &v); err != nil {
			return h, err
		}
		return h, errors.New("invalid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return h, errors.New("not a JSON object")
	}
	for dec.More() && (h.ID == "" || h.Index == nil) {
		tok, err := dec.Token()
		if err != nil {
			return h, err
		}
		switch tok {
		case "instance_id":
			err = dec.Decode(&h.ID)
		case "index":
			h.Index = new(int)
			err = dec.Decode(h.Index)
		default:
			var skip json.RawMessage
			err = dec.Decode(&skip)
		}
		if err != nil {
			return h, fmt.Errorf("field %v: %w", tok, err)
		}
	}
	return h, nil
}

// lineRef locates a line in a file: its offset, its size with its newline
// (without, for a last line that has none) and, for a trace line, the
// trace index.
type lineRef struct {
	index      int
	off        int64
	size       int
	terminated bool
}

// entry is a finished instance of a run directory: where its prediction
// line and its trace lines are.
type entry struct {
	id       string
	index    int  // the prediction's index (the instance's data row)
	hasIndex bool // the prediction has an index
	seq      int  // position in predictions.jsonl
	line     lineRef
	traces   []lineRef
}

// contents is a run directory's files as a resumed run sees them: the
// finished instances (a complete, valid prediction line), their trace
// lines, and what a crash left behind.
type contents struct {
	entries []*entry
	byID    map[string]*entry

	// predsEnd is the size of the prefix of predictions.jsonl made of the
	// finished instances' lines; predsOpen reports that its last line
	// lacks a newline.
	predsEnd  int64
	predsOpen bool
	// partialPreds and partialTraces are the sizes of the files' partial
	// last lines.
	partialPreds, partialTraces int

	// keep lists the trace lines of finished instances in file order;
	// tracesEnd is the size of the prefix of traces.jsonl made of them
	// alone, and tracesClean reports that no other line precedes its end.
	keep        []lineRef
	tracesEnd   int64
	tracesClean bool
	// orphans counts the complete trace lines dropped: those of
	// instances without a prediction (in flight when the run stopped)
	// and, unless strict, lines that are not a trace.
	orphans int
}

// scanContents reads the predictions and trace files of dir (missing
// files are empty). strict (Merge) makes every malformed line an error;
// otherwise (Open) a malformed last prediction line is dropped like a
// partial one, malformed trace lines are dropped, and a malformed
// prediction line followed by good ones is an error (a crash leaves no
// such file).
func scanContents(ctx context.Context, dir string, strict bool) (*contents, error) {
	c, err := scanPredictions(ctx, dir, strict)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, record.TracesFile)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	lr := newLineReader(ctx, f, path)
	for lr.next() {
		h, herr := parseHead(lr.line)
		if herr == nil && (h.ID == "" || h.Index == nil) {
			herr = errors.New("field instance_id or index is missing")
		}
		if herr != nil && strict {
			return nil, fmt.Errorf("%s:%d: not a trace (%v); run deepconf run on the directory again to repair it", path, lr.num, herr)
		}
		var e *entry
		if herr == nil {
			e = c.byID[h.ID]
		}
		if e == nil {
			c.orphans++
			c.tracesClean = false
			continue
		}
		if strict {
			for _, t := range e.traces {
				if t.index == *h.Index {
					return nil, fmt.Errorf("%s:%d: trace %d of instance %s appears twice", path, lr.num, t.index, h.ID)
				}
			}
		}
		ref := lineRef{index: *h.Index, off: lr.off, size: lr.size, terminated: lr.terminated}
		e.traces = append(e.traces, ref)
		c.keep = append(c.keep, ref)
		if c.tracesClean {
			c.tracesEnd = lr.off + int64(lr.size)
		}
	}
	if lr.err != nil {
		return nil, lr.err
	}
	c.partialTraces = lr.partial
	return c, nil
}

// scanPredictions reads the predictions file of dir (a missing file is
// empty) as scanContents does, into contents without traces.
func scanPredictions(ctx context.Context, dir string, strict bool) (*contents, error) {
	c := &contents{byID: map[string]*entry{}, tracesClean: true}
	path := filepath.Join(dir, record.PredictionsFile)
	f, err := os.Open(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err == nil {
		defer f.Close()
		bad := 0
		lr := newLineReader(ctx, f, path)
		for lr.next() {
			h, herr := parseHead(lr.line)
			if herr == nil && h.ID == "" {
				herr = errors.New("field instance_id is missing")
			}
			switch {
			case herr != nil && strict:
				return nil, fmt.Errorf("%s:%d: not a prediction (%v); run deepconf run on the directory again to repair it", path, lr.num, herr)
			case bad > 0:
				return nil, fmt.Errorf("%s:%d: line is not a prediction, and later lines are; repair the file by hand", path, bad)
			case herr != nil:
				bad = lr.num
				continue
			}
			if prev, dup := c.byID[h.ID]; dup {
				return nil, fmt.Errorf("%s:%d: instance %s appears twice (also on line %d)", path, lr.num, h.ID, prev.seq+1)
			}
			e := &entry{id: h.ID, seq: len(c.entries), line: lineRef{off: lr.off, size: lr.size, terminated: lr.terminated}}
			if h.Index != nil {
				e.index, e.hasIndex = *h.Index, true
			}
			c.byID[h.ID] = e
			c.entries = append(c.entries, e)
			c.predsEnd, c.predsOpen = lr.off+int64(lr.size), !lr.terminated
		}
		if lr.err != nil {
			return nil, lr.err
		}
		c.partialPreds = lr.partial
	}

	return c, nil
}
