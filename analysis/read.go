package analysis

import (
	"context"

	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/store"
)

// The analysis reads run directories through package store, the one reader
// of run.json, predictions.jsonl and traces.jsonl; the names below are the
// analysis's entry points to it.

// CheckpointFile is the prototype's incremental predictions file, read when
// a prototype run directory has no predictions.jsonl (its run crashed).
const CheckpointFile = store.CheckpointFile

// RunData is a run directory as the analysis reads it (store.Data): the run
// description, every prediction, and the path of the traces file, which is
// streamed (see ScanTraces) rather than held in memory.
type RunData = store.Data

// LoadOptions configure LoadWith (store.LoadOptions).
type LoadOptions = store.LoadOptions

// Load reads the run directory dir without the predictions' trace texts;
// see LoadWith.
func Load(ctx context.Context, dir string) (*RunData, error) {
	return store.Load(ctx, dir, LoadOptions{})
}

// LoadWith reads the run directory dir (store.Load): run.json if present,
// predictions.jsonl (or, failing that, the prototype's
// predictions_checkpoint.jsonl), and notes whether traces.jsonl exists.
// Malformed lines are errors naming the file, line and field.
func LoadWith(ctx context.Context, dir string, o LoadOptions) (*RunData, error) {
	return store.Load(ctx, dir, o)
}

// ReadPredictions reads a predictions file (store.ReadPredictions): the
// predictions in file order and the number of non-finite float values it
// contained. Unless texts is set, the trace texts are skipped.
func ReadPredictions(ctx context.Context, path string, texts bool) ([]record.Prediction, int, error) {
	return store.ReadPredictions(ctx, path, texts)
}

// ReadTraceTexts returns the trace texts of the predictions at the indices
// idx of a predictions file, keyed by index (store.ReadTraceTexts).
func ReadTraceTexts(ctx context.Context, path string, idx []int, ids []string) (map[int][]string, error) {
	return store.ReadTraceTexts(ctx, path, idx, ids)
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

// fields returns the store's fields of the mode.
func (m ScanMode) fields() store.TraceFields {
	switch m {
	case ScanText:
		return store.TraceText
	case ScanFull:
		return store.TraceAll
	}
	return store.TraceSummary
}

// ScanTraces streams the traces.jsonl file at path (store.ScanTraces),
// calling fn with each trace in file order (blank lines and a partial last
// line skipped); line is the 1-based line number. The mode says which
// bulky fields are skipped without being decoded (they are then nil or
// ""): this keeps a ToxicChat-sized run (50,830 traces × 256 tokens) fast
// and small. fn must copy what it keeps of the *record.Trace (its slices
// and strings stay valid).
func ScanTraces(ctx context.Context, path string, mode ScanMode, fn func(line int, t *record.Trace) error) error {
	return store.ScanTraces(ctx, path, store.ScanOptions{Fields: mode.fields()}, fn)
}
