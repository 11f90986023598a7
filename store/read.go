package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// ReadRun reads run.json of dir. A missing file is an error wrapping
// fs.ErrNotExist.
func ReadRun(dir string) (record.Run, error) {
	var r record.Run
	path := filepath.Join(dir, record.RunFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, describeJSONError(err))
	}
	return r, nil
}

// Data is a run directory as Load reads it: the run description, every
// prediction, and the path of the traces file, which is streamed (see
// ScanTraces) rather than held in memory.
type Data struct {
	// Dir is the run directory.
	Dir string
	// Run is run.json, or nil when the directory has none (a prototype
	// run).
	Run *record.Run
	// PredictionsPath is the predictions file that was read.
	PredictionsPath string
	// Predictions holds the predictions in file order.
	Predictions []record.Prediction
	// NonFinite counts the NaN and ±Inf values found in the float fields
	// of the predictions (Python writes them as bare NaN/Infinity; the
	// prototype's "infinity bug"). They are kept as they are.
	NonFinite int
	// Partial is the size in bytes of a partial last line of the
	// predictions file (a run in progress, or interrupted and not
	// resumed), which was skipped; 0 when there is none.
	Partial int
	// TracesPath is the traces file, or "" when the directory has none
	// (prototype runs store trace texts only inside predictions.jsonl).
	TracesPath string
}

// MajorityPolicy returns the most frequent policy of the run's predictions
// ("" when none is recorded); ties go to the first seen.
func (d *Data) MajorityPolicy() string {
	counts := map[string]int{}
	best, bestN := "", 0
	for _, p := range d.Predictions {
		if p.Policy == "" {
			continue
		}
		counts[p.Policy]++
		if counts[p.Policy] > bestN {
			best, bestN = p.Policy, counts[p.Policy]
		}
	}
	return best
}

// LoadOptions configure Load.
type LoadOptions struct {
	// TraceTexts keeps the trace texts of the predictions
	// (record.Prediction.Traces). By default they are skipped without
	// being decoded, as the analysis does not need them (deepconf runs
	// also have them in traces.jsonl); keep them to show example
	// responses.
	TraceTexts bool
}

// Load reads the run directory dir: run.json if present,
// predictions.jsonl (or, failing that, the prototype's
// predictions_checkpoint.jsonl), and notes whether traces.jsonl exists.
// Malformed lines are errors naming the file, line and field.
func Load(ctx context.Context, dir string, o LoadOptions) (*Data, error) {
	d := &Data{Dir: dir}
	r, err := ReadRun(dir)
	switch {
	case err == nil:
		d.Run = &r
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("read run description: %w", err)
	}
	if d.PredictionsPath, err = PredictionsPath(dir); err != nil {
		return nil, err
	}
	if d.Predictions, d.NonFinite, d.Partial, err = readPredictions(ctx, d.PredictionsPath, o.TraceTexts); err != nil {
		return nil, err
	}
	tp := filepath.Join(dir, record.TracesFile)
	if _, err := os.Stat(tp); err == nil {
		d.TracesPath = tp
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("stat traces: %w", err)
	}
	return d, nil
}

// PredictionsPath returns the predictions file of the run directory dir:
// predictions.jsonl, or the prototype's predictions_checkpoint.jsonl when
// there is none (its run crashed).
func PredictionsPath(dir string) (string, error) {
	p := filepath.Join(dir, record.PredictionsFile)
	_, err := os.Stat(p)
	if err == nil {
		return p, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	cp := filepath.Join(dir, CheckpointFile)
	if _, err := os.Stat(cp); err == nil {
		return cp, nil
	}
	return "", fmt.Errorf("%s: no %s in the run directory (is it a deepconf or prototype output directory?)", dir, record.PredictionsFile)
}

// ReadPredictions reads a predictions file (deepconf's or the prototype's
// format; blank lines and a partial last line are skipped) and returns the
// predictions in file order and the number of non-finite float values it
// contained. Instance IDs must be present and unique. Unless texts is set,
// the trace texts (the "traces" field) are skipped and Prediction.Traces is
// nil.
func ReadPredictions(ctx context.Context, path string, texts bool) ([]record.Prediction, int, error) {
	preds, nonFinite, _, err := readPredictions(ctx, path, texts)
	return preds, nonFinite, err
}

// predictionTextsKey is the key of a prediction's trace texts.
var predictionTextsKey = []byte(`"traces":`)

func readPredictions(ctx context.Context, path string, texts bool) (preds []record.Prediction, nonFinite, partial int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read predictions: %w", err)
	}
	defer f.Close()
	var (
		seen  = map[string]int{}
		batch predictionBatch
	)
	// Lines are decoded in batches of about predictionBatchBytes on all
	// cores; the checks that need file order run on the decoded batch.
	flush := func() error {
		if err := batch.decode(ctx, path); err != nil {
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
	lr := newLineReader(ctx, f, path)
	for lr.next() {
		var cut jsonline.Span
		if !texts {
			if j := jsonline.FindValue(lr.line, predictionTextsKey, 0); j >= 0 {
				if end := jsonline.ValueEnd(lr.line, j); end >= 0 {
					cut = jsonline.Span{Lo: j, Hi: end}
				}
			}
		}
		batch.add(lr.num, lr.line, cut)
		if len(batch.data) >= predictionBatchBytes {
			if err := flush(); err != nil {
				return nil, 0, 0, err
			}
		}
	}
	if lr.err != nil {
		return nil, 0, 0, lr.err
	}
	if err := flush(); err != nil {
		return nil, 0, 0, err
	}
	return preds, nonFinite, lr.partial, nil
}

// ReadTraceTexts returns the trace texts (the "traces" field) of the
// predictions at the indices idx of a predictions file, in the order
// ReadPredictions returns them, keyed by index; ids are their instance IDs,
// checked against the file so that a file changed since it was read is an
// error. Only the wanted lines are decoded: the report needs the texts of
// a few misclassified instances, not all.
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
	lr := newLineReader(ctx, f, path)
	k := -1
	for len(out) < len(want) && lr.next() {
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
		if err := json.Unmarshal(jsonline.QuotePythonLiterals(lr.line), &v); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lr.num, describeJSONError(err))
		}
		if v.InstanceID != id {
			return nil, fmt.Errorf("%s:%d: instance %q where %q was read before: the file changed while it was analysed", path, lr.num, v.InstanceID, id)
		}
		out[k] = v.Traces
	}
	if lr.err != nil {
		return nil, lr.err
	}
	if len(out) < len(want) {
		return nil, fmt.Errorf("%s: %d predictions, fewer than when it was analysed: the file changed", path, k+1)
	}
	return out, nil
}

// predictionBatchBytes is the size of the batches of ReadPredictions.
const predictionBatchBytes = 4 << 20

// predictionBatch is a batch of predictions lines and their decoding.
type predictionBatch struct {
	data      []byte
	ends      []int // line i is data[ends[i-1]:ends[i]]
	lines     []int // file line numbers
	preds     []record.Prediction
	nonFinite []int
}

// add adds a copy of a line with the value at cut (if any) replaced by
// null.
func (b *predictionBatch) add(line int, text []byte, cut jsonline.Span) {
	start := len(b.data)
	b.data = append(b.data, text...)
	if cut.Hi > 0 {
		b.data = b.data[:start+len(jsonline.NullSpans(b.data[start:], []jsonline.Span{cut}))]
	}
	b.ends = append(b.ends, len(b.data))
	b.lines = append(b.lines, line)
}

func (b *predictionBatch) reset() {
	b.data, b.ends, b.lines = b.data[:0], b.ends[:0], b.lines[:0]
	b.preds, b.nonFinite = nil, b.nonFinite[:0]
}

// decode decodes every line of the batch on up to GOMAXPROCS goroutines.
// Its error is that of the first bad line.
func (b *predictionBatch) decode(ctx context.Context, path string) error {
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

// pyFloat decodes a float that may be non-finite (jsonline.ParseFloat).
type pyFloat float64

func (f *pyFloat) UnmarshalJSON(b []byte) error {
	x, err := jsonline.ParseFloat(b)
	*f = pyFloat(x)
	return err
}

// predictionLine decodes a predictions line: its float fields shadow
// record.Prediction's so that non-finite values written by Python decode.
type predictionLine struct {
	record.Prediction
	Confidences       []pyFloat `json:"confidences"`
	RefusalRate       pyFloat   `json:"refusal_rate"`
	AvgConfidence     pyFloat   `json:"avg_confidence"`
	AvgTokensPerTrace pyFloat   `json:"avg_tokens_per_trace"`
	Beta              pyFloat   `json:"beta"`
	Confidence        pyFloat   `json:"confidence"`
	TraceConfidences  []pyFloat `json:"trace_confidences"`
	Threshold         *pyFloat  `json:"threshold"`
}

// decodePrediction decodes one predictions line and counts its non-finite
// float values.
func decodePrediction(b []byte) (record.Prediction, int, error) {
	b = jsonline.QuotePythonLiterals(b)
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
func floats(fs []pyFloat, n int) ([]float64, int) {
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
