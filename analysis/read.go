package analysis

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/deepconf/deepconf/internal/jsonline"
	"github.com/deepconf/deepconf/record"
)

// CheckpointFile is the prototype's incremental predictions file, read when
// a prototype run directory has no predictions.jsonl (its run crashed).
const CheckpointFile = "predictions_checkpoint.jsonl"

// maxLine bounds one JSONL line (a trace with a very long text and its token
// arrays).
const maxLine = 256 << 20

// RunData is a run directory as the analysis reads it: the run description,
// every prediction, and the path of the traces file, which is streamed (see
// ScanTraces) rather than held in memory.
type RunData struct {
	// Dir is the run directory.
	Dir string
	// Run is run.json, or nil when the directory has none (a prototype
	// run).
	Run *record.Run
	// PredictionsPath is the predictions file that was read.
	PredictionsPath string
	// Predictions holds predictions.jsonl in file order.
	Predictions []record.Prediction
	// NonFinite counts the NaN and ±Inf values found in the float fields
	// of predictions.jsonl (Python writes them as bare NaN/Infinity; the
	// prototype's "infinity bug"). They are kept as they are.
	NonFinite int
	// TracesPath is the traces file, or "" when the directory has none
	// (prototype runs store trace texts only inside predictions.jsonl).
	TracesPath string
}

// LoadOptions configure LoadWith.
type LoadOptions struct {
	// TraceTexts keeps the trace texts of predictions.jsonl
	// (record.Prediction.Traces). By default they are skipped without being
	// decoded, as the analysis does not need them (deepconf runs also have
	// them in traces.jsonl); keep them to show example responses.
	TraceTexts bool
}

// Load reads the run directory dir without the predictions' trace texts;
// see LoadWith.
func Load(ctx context.Context, dir string) (*RunData, error) {
	return LoadWith(ctx, dir, LoadOptions{})
}

// LoadWith reads the run directory dir: run.json if present,
// predictions.jsonl (or, failing that, the prototype's
// predictions_checkpoint.jsonl), and notes whether traces.jsonl exists.
// Malformed lines are errors naming the file, line and field.
func LoadWith(ctx context.Context, dir string, o LoadOptions) (*RunData, error) {
	d := &RunData{Dir: dir}
	runPath := filepath.Join(dir, record.RunFile)
	if b, err := os.ReadFile(runPath); err == nil {
		var r record.Run
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("read %s: %w", runPath, err)
		}
		d.Run = &r
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read run description: %w", err)
	}
	d.PredictionsPath = filepath.Join(dir, record.PredictionsFile)
	if _, err := os.Stat(d.PredictionsPath); errors.Is(err, fs.ErrNotExist) {
		cp := filepath.Join(dir, CheckpointFile)
		if _, err2 := os.Stat(cp); err2 == nil {
			d.PredictionsPath = cp
		} else {
			return nil, fmt.Errorf("%s: no %s in the run directory (is it a deepconf or prototype output directory?)", dir, record.PredictionsFile)
		}
	}
	preds, nonFinite, err := ReadPredictions(ctx, d.PredictionsPath, o.TraceTexts)
	if err != nil {
		return nil, err
	}
	d.Predictions, d.NonFinite = preds, nonFinite
	tp := filepath.Join(dir, record.TracesFile)
	if _, err := os.Stat(tp); err == nil {
		d.TracesPath = tp
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stat traces: %w", err)
	}
	return d, nil
}

// predictionLine decodes a predictions.jsonl line: its float fields shadow
// record.Prediction's so that non-finite values written by Python decode.
type predictionLine struct {
	record.Prediction
	Confidences       []Float `json:"confidences"`
	RefusalRate       Float   `json:"refusal_rate"`
	AvgConfidence     Float   `json:"avg_confidence"`
	AvgTokensPerTrace Float   `json:"avg_tokens_per_trace"`
	Beta              Float   `json:"beta"`
	Confidence        Float   `json:"confidence"`
	TraceConfidences  []Float `json:"trace_confidences"`
	Threshold         *Float  `json:"threshold"`
}

// ReadPredictions reads a predictions.jsonl file (deepconf's or the
// prototype's format; blank lines are skipped) and returns the predictions
// in file order and the number of non-finite float values it contained.
// Instance IDs must be present and unique. Unless texts is set, the trace
// texts (the "traces" field) are skipped and Prediction.Traces is nil.
func ReadPredictions(ctx context.Context, path string, texts bool) ([]record.Prediction, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read predictions: %w", err)
	}
	defer f.Close()
	var (
		preds     []record.Prediction
		nonFinite int
		seen      = map[string]int{}
		batch     predictionBatch
	)
	// Lines are decoded in batches of about predictionBatchBytes on all
	// cores; the checks that need file order run on the decoded batch.
	flush := func() error {
		if err := batch.decode(ctx, path, texts); err != nil {
			return err
		}
		for i := range batch.preds {
			p, line := batch.preds[i], batch.lines[i]
			if first, dup := seen[p.InstanceID]; dup {
				return fmt.Errorf("%s:%d: field instance_id: %q already on line %d (duplicate instance)", path, line, p.InstanceID, first)
			}
			seen[p.InstanceID] = line
			nonFinite += batch.nonFinite[i]
		}
		preds = append(preds, batch.preds...)
		batch.reset()
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if !texts {
			b = dropFields(b, predictionTextsKeys)
		}
		batch.add(line, b)
		if len(batch.data) >= predictionBatchBytes {
			if err := flush(); err != nil {
				return nil, 0, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, fmt.Errorf("read %s after line %d: %w", path, line, err)
	}
	if err := flush(); err != nil {
		return nil, 0, err
	}
	return preds, nonFinite, nil
}

// ReadTraceTexts returns the trace texts (the "traces" field) of the
// predictions at the indices idx of a predictions.jsonl file, in the order
// ReadPredictions returns them (blank lines skipped), keyed by index; ids
// are their instance IDs, checked against the file so that a file changed
// since it was read is an error. Only the wanted lines are decoded: the
// report needs the texts of a few misclassified instances, not all.
func ReadTraceTexts(ctx context.Context, path string, idx []int, ids []string) (map[int][]string, error) {
	if len(idx) != len(ids) {
		return nil, fmt.Errorf("read trace texts: %d indices, %d ids", len(idx), len(ids))
	}
	want := make(map[int]string, len(idx))
	for i, k := range idx {
		want[k] = ids[i]
	}
	out := make(map[int][]string, len(idx))
	if len(want) == 0 {
		return out, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read trace texts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	line, k := 0, -1
	for sc.Scan() && len(out) < len(want) {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		k++
		id, ok := want[k]
		if !ok {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var v struct {
			InstanceID string   `json:"instance_id"`
			Traces     []string `json:"traces"`
		}
		if err := json.Unmarshal(quotePythonLiterals(b), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, describeJSONError(err))
		}
		if v.InstanceID != id {
			return nil, fmt.Errorf("%s:%d: instance %q where %q was read before: the file changed while it was analysed", path, line, v.InstanceID, id)
		}
		out[k] = v.Traces
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s after line %d: %w", path, line, err)
	}
	if len(out) < len(want) {
		return nil, fmt.Errorf("%s: %d predictions, fewer than when it was analysed: the file changed", path, k+1)
	}
	return out, nil
}

// predictionBatchBytes is the size of the batches of ReadPredictions.
const predictionBatchBytes = 4 << 20

// predictionBatch is a batch of predictions.jsonl lines and their decoding.
type predictionBatch struct {
	data      []byte
	ends      []int // line i is data[ends[i-1]:ends[i]]
	lines     []int // file line numbers
	preds     []record.Prediction
	nonFinite []int
}

func (b *predictionBatch) add(line int, text []byte) {
	b.data = append(b.data, text...)
	b.ends = append(b.ends, len(b.data))
	b.lines = append(b.lines, line)
}

func (b *predictionBatch) reset() {
	b.data, b.ends, b.lines = b.data[:0], b.ends[:0], b.lines[:0]
	b.preds, b.nonFinite = nil, b.nonFinite[:0]
}

// decode decodes every line of the batch on up to GOMAXPROCS goroutines.
// Its error is that of the first bad line.
func (b *predictionBatch) decode(ctx context.Context, path string, texts bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n := len(b.ends)
	b.preds = make([]record.Prediction, n)
	b.nonFinite = slices.Grow(b.nonFinite[:0], n)[:n]
	errs := make([]error, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				lo := 0
				if i > 0 {
					lo = b.ends[i-1]
				}
				b.preds[i], b.nonFinite[i], errs[i] = decodePrediction(b.data[lo:b.ends[i]:b.ends[i]])
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("%s:%d: %w", path, b.lines[i], err)
		}
	}
	return nil
}

// decodePrediction decodes one predictions.jsonl line and counts its
// non-finite float values.
func decodePrediction(b []byte) (record.Prediction, int, error) {
	b = quotePythonLiterals(b)
	var pl predictionLine
	if err := json.Unmarshal(b, &pl); err != nil {
		return record.Prediction{}, 0, describeJSONError(err)
	}
	p := pl.Prediction
	if p.InstanceID == "" {
		return record.Prediction{}, 0, errors.New("field instance_id: missing or empty")
	}
	nonFinite := 0
	p.Confidences, nonFinite = floats(pl.Confidences, nonFinite)
	p.TraceConfidences, nonFinite = floats(pl.TraceConfidences, nonFinite)
	p.RefusalRate = float64(pl.RefusalRate)
	p.AvgConfidence = float64(pl.AvgConfidence)
	p.AvgTokensPerTrace = float64(pl.AvgTokensPerTrace)
	p.Beta = float64(pl.Beta)
	p.Confidence = float64(pl.Confidence)
	for _, x := range []float64{p.AvgConfidence, p.Confidence} {
		if !finite(x) {
			nonFinite++
		}
	}
	if pl.Threshold != nil {
		t := float64(*pl.Threshold)
		p.Threshold = &t
	}
	return p, nonFinite, nil
}

// floats converts fs and adds its non-finite values to n.
func floats(fs []Float, n int) ([]float64, int) {
	if fs == nil {
		return nil, n
	}
	out := make([]float64, len(fs))
	for i, f := range fs {
		out[i] = float64(f)
		if !finite(out[i]) {
			n++
		}
	}
	return out, n
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// describeJSONError names the field of a type error.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("field %s: want %s, got JSON %s", strings.TrimPrefix(te.Field, "Prediction."), te.Type, te.Value)
	}
	return err
}

// quotePythonLiterals rewrites the bare NaN, Infinity and -Infinity tokens
// that Python's json module writes for non-finite floats into JSON strings
// (which Float decodes). Text inside strings is left alone. Lines without
// such tokens are returned unchanged without copying.
func quotePythonLiterals(b []byte) []byte {
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

// Keys of the bulky fields that a summary scan skips: the per-token arrays
// of a trace (the bulk of traces.jsonl), its text, and the trace texts of a
// prediction.
var (
	tokenArrayKeys = [][]byte{
		[]byte(`"token_confidences":`),
		[]byte(`"token_ok":`),
		[]byte(`"token_logprobs":`),
	}
	traceTextKeys       = [][]byte{[]byte(`"text":`)}
	predictionTextsKeys = [][]byte{[]byte(`"traces":`)}
)

// dropTokenArrays replaces the values of the per-token array fields of a
// traces.jsonl line by null, in place.
func dropTokenArrays(b []byte) []byte { return dropFields(b, tokenArrayKeys) }

// dropFields replaces, in place, the value of each of keys (searched in
// order, each after the previous one's value, with a fallback to the whole
// line) by null, so that decoding does not scan it. A key pattern (quote,
// name, quote, colon) cannot occur inside a JSON string value, where quotes
// are escaped. Values must be strings or arrays of scalars (numbers,
// booleans, null, strings); anything else is left alone, as are values
// shorter than null.
func dropFields(b []byte, keys [][]byte) []byte {
	from := 0
	for _, key := range keys {
		i := bytes.Index(b[from:], key)
		if i >= 0 {
			i += from
		} else if i = bytes.Index(b, key); i < 0 {
			continue
		}
		j := i + len(key)
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		end := skipValue(b, j)
		if end < 0 || end-j <= len("null") {
			from = max(j, 0)
			continue
		}
		copy(b[j:], "null")
		n := copy(b[j+4:], b[end:])
		b = b[:j+4+n]
		from = j + 4
	}
	return b
}

// skipValue returns the index just after the JSON string or flat array
// (of scalars and strings) starting at b[i], or −1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return jsonline.StringEnd(b, i)
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
			if j = jsonline.StringEnd(b, j); j < 0 {
				return -1
			}
		default: // nested array or object
			return -1
		}
	}
	return -1
}

// ScanMode says which bulky fields ScanTraces decodes.
type ScanMode int

// Scan modes.
const (
	// ScanSummary skips the per-token arrays and the text (nil / "").
	ScanSummary ScanMode = iota
	// ScanText skips the per-token arrays only.
	ScanText
	// ScanFull decodes every field.
	ScanFull
)

// ScanTraces streams the traces.jsonl file at path, calling fn with each
// trace in file order (blank lines skipped); line is the 1-based line number.
// The mode says which bulky fields are skipped without being decoded (they
// are then nil or ""): this keeps a ToxicChat-sized run (50,830 traces × 256
// tokens) fast and small. The *record.Trace is reset and reused between
// calls; fn must copy what it keeps (its slices and strings stay valid).
func ScanTraces(ctx context.Context, path string, mode ScanMode, fn func(line int, t *record.Trace) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read traces: %w", err)
	}
	defer f.Close()
	return scanTraces(ctx, f, path, mode, fn)
}

func scanTraces(ctx context.Context, r io.Reader, path string, mode ScanMode, fn func(line int, t *record.Trace) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), maxLine)
	line := 0
	var t record.Trace
	for sc.Scan() {
		line++
		if line%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if mode != ScanFull {
			b = dropFields(b, tokenArrayKeys)
		}
		if mode == ScanSummary {
			b = dropFields(b, traceTextKeys)
		}
		t = record.Trace{}
		if err := json.Unmarshal(b, &t); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, describeJSONError(err))
		}
		if t.InstanceID == "" {
			return fmt.Errorf("%s:%d: field instance_id: missing or empty", path, line)
		}
		if err := fn(line, &t); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s after line %d: %w", path, line, err)
	}
	return nil
}
