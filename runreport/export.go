package runreport

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/internal/atomicfile"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/table"
)

// Export formats and file names.
const (
	FormatCSV      = "csv"
	FormatParquet  = "parquet"
	FormatMarkdown = "md"
	FormatLaTeX    = "latex"

	InstancesCSV     = "instances.csv"
	InstancesParquet = "instances.parquet"
	TracesCSV        = "traces.csv"
	TracesParquet    = "traces.parquet"
	TablesMarkdown   = "tables.md"
	TablesLaTeX      = "tables.tex"
)

// ParseFormats parses a comma-separated list of export formats (csv,
// parquet, md, latex; "tex" is accepted for latex, "all" for every format).
func ParseFormats(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		switch f {
		case "":
			continue
		case "tex":
			f = FormatLaTeX
		case "markdown":
			f = FormatMarkdown
		case "all":
			for _, g := range []string{FormatCSV, FormatParquet, FormatMarkdown, FormatLaTeX} {
				if !seen[g] {
					seen[g] = true
					out = append(out, g)
				}
			}
			continue
		case FormatCSV, FormatParquet, FormatMarkdown, FormatLaTeX:
		default:
			return nil, fmt.Errorf("export format %q: want csv, parquet, md or latex", f)
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out, nil
}

// InstanceRow is one row of instances.csv / instances.parquet: a
// prediction's scalar fields, its scoring under the analysis, and its
// per-trace lists (JSON arrays in CSV, LIST columns in Parquet). Trace
// texts are in the traces export.
type InstanceRow struct {
	InstanceID        string `parquet:"instance_id"`
	Index             int64  `parquet:"index"`
	Prompt            string `parquet:"prompt"`
	BenchmarkCategory string `parquet:"benchmark_category"`
	GoldLabel         string `parquet:"gold_label"`
	GroundTruth       string `parquet:"ground_truth"`
	Policy            string `parquet:"policy"`
	Behaviour         string `parquet:"behaviour"`
	// Category is the analysis' confidence category ("" when not
	// categorised); SplitMetric the value it was decided on.
	Category    string  `parquet:"category"`
	SplitMetric float64 `parquet:"split_metric"`
	Scored      bool    `parquet:"scored"`
	// Correct is null when the instance is not scored.
	Correct    *bool   `parquet:"correct,optional"`
	Confidence float64 `parquet:"confidence"`
	Beta       float64 `parquet:"beta"`
	// PBeta and PConfidence are the cross-fitted probabilities of a
	// correct answer from β and from the DeepConf confidence
	// (analysis.Instance; NaN when not computed).
	PBeta              float64   `parquet:"p_beta"`
	PConfidence        float64   `parquet:"p_confidence"`
	FinalPrediction    string    `parquet:"final_prediction"`
	RefusalRate        float64   `parquet:"refusal_rate"`
	AvgConfidence      float64   `parquet:"avg_confidence"`
	ConfidenceCategory string    `parquet:"confidence_category"`
	NumTracesUsed      int64     `parquet:"num_traces_used"`
	TotalTokens        int64     `parquet:"total_tokens"`
	AvgTokensPerTrace  float64   `parquet:"avg_tokens_per_trace"`
	TracesGenerated    int64     `parquet:"traces_generated"`
	TokensGenerated    int64     `parquet:"tokens_generated"`
	EarlyStopped       int64     `parquet:"early_stopped"`
	Stop               string    `parquet:"stop"`
	Threshold          *float64  `parquet:"threshold,optional"`
	Confidences        []float64 `parquet:"confidences,list"`
	TraceConfidences   []float64 `parquet:"trace_confidences,list"`
	Refused            []bool    `parquet:"refused,list"`
	TokensPerTrace     []int64   `parquet:"tokens_per_trace,list"`
}

// TraceRow is one row of traces.csv / traces.parquet: a trace without its
// per-token arrays unless the export asks for them, plus the gold label of
// its instance.
type TraceRow struct {
	InstanceID          string    `parquet:"instance_id"`
	Index               int64     `parquet:"index"`
	GoldLabel           string    `parquet:"gold_label"`
	Seed                uint64    `parquet:"seed"`
	Phase               string    `parquet:"phase"`
	Text                string    `parquet:"text"`
	Tokens              int64     `parquet:"tokens"`
	Finish              string    `parquet:"finish"`
	Used                bool      `parquet:"used"`
	Label               string    `parquet:"label"`
	Rule                string    `parquet:"rule"`
	ConfidenceN         int64     `parquet:"confidence_n"`
	ConfidenceMean      float64   `parquet:"confidence_mean"`
	ConfidenceLowest    float64   `parquet:"confidence_lowest_group"`
	ConfidenceBottom    float64   `parquet:"confidence_bottom"`
	ConfidenceTail      float64   `parquet:"confidence_tail"`
	PrototypeConfidence float64   `parquet:"seed_confidence"`
	CountScored         int64     `parquet:"count_scored"`
	CountEmpty          int64     `parquet:"count_empty"`
	CountShort          int64     `parquet:"count_short"`
	CountNonFinite      int64     `parquet:"count_non_finite"`
	CountSentinel       int64     `parquet:"count_sentinel"`
	CountClamped        int64     `parquet:"count_clamped"`
	TokenConfidences    []float32 `parquet:"token_confidences,list"`
	TokenLogprobs       []float32 `parquet:"token_logprobs,list"`
}

var instanceHeader = []string{
	"instance_id", "index", "prompt", "benchmark_category", "gold_label", "ground_truth", "policy", "behaviour",
	"category", "split_metric", "scored", "correct", "confidence", "beta", "p_beta", "p_confidence", "final_prediction", "refusal_rate",
	"avg_confidence", "confidence_category", "num_traces_used", "total_tokens", "avg_tokens_per_trace",
	"traces_generated", "tokens_generated", "early_stopped", "stop", "threshold", "confidences",
	"trace_confidences", "refused", "tokens_per_trace",
}

var traceHeader = []string{
	"instance_id", "index", "gold_label", "seed", "phase", "text", "tokens", "finish", "used", "label", "rule",
	"confidence_n", "confidence_mean", "confidence_lowest_group", "confidence_bottom", "confidence_tail",
	"seed_confidence", "count_scored", "count_empty", "count_short", "count_non_finite", "count_sentinel",
	"count_clamped", "token_confidences", "token_logprobs",
}

// InstanceRows returns the instance rows of a run scored by r (r.Instances
// parallel to d.Predictions).
func InstanceRows(d *analysis.RunData, r *analysis.Result) []InstanceRow {
	rows := make([]InstanceRow, len(d.Predictions))
	for i := range d.Predictions {
		p := &d.Predictions[i]
		in := r.Instances[i]
		row := InstanceRow{
			InstanceID: p.InstanceID, Index: int64(p.Index), Prompt: p.Prompt, BenchmarkCategory: p.Category,
			GoldLabel: in.Gold, GroundTruth: p.GroundTruth, Policy: p.Policy, Behaviour: in.Behaviour,
			Category: in.Category, SplitMetric: in.Metric, Scored: in.Scored, Confidence: p.Confidence, Beta: p.Beta,
			PBeta: in.PBeta, PConfidence: in.PConfidence,
			FinalPrediction: p.FinalPrediction, RefusalRate: p.RefusalRate, AvgConfidence: p.AvgConfidence,
			ConfidenceCategory: p.ConfidenceCategory, NumTracesUsed: int64(p.NumTracesUsed),
			TotalTokens: int64(p.TotalTokens), AvgTokensPerTrace: p.AvgTokensPerTrace,
			TracesGenerated: int64(analysis.TracesGenerated(p)), TokensGenerated: int64(analysis.TokensGenerated(p)),
			EarlyStopped: int64(p.EarlyStopped), Stop: p.Stop, Threshold: p.Threshold,
			Confidences: p.Confidences, TraceConfidences: p.TraceConfidences, Refused: p.Refused,
		}
		if in.Scored {
			c := in.Correct
			row.Correct = &c
		}
		for _, n := range p.TokensPerTrace {
			row.TokensPerTrace = append(row.TokensPerTrace, int64(n))
		}
		rows[i] = row
	}
	return rows
}

func (row *InstanceRow) record() []string {
	correct := ""
	if row.Correct != nil {
		correct = strconv.FormatBool(*row.Correct)
	}
	threshold := ""
	if row.Threshold != nil {
		threshold = table.CSVFloat(*row.Threshold)
	}
	return []string{
		row.InstanceID, strconv.FormatInt(row.Index, 10), row.Prompt, row.BenchmarkCategory, row.GoldLabel,
		row.GroundTruth, row.Policy, row.Behaviour, row.Category, table.CSVFloat(row.SplitMetric),
		strconv.FormatBool(row.Scored), correct, table.CSVFloat(row.Confidence), table.CSVFloat(row.Beta),
		table.CSVFloat(row.PBeta), table.CSVFloat(row.PConfidence), row.FinalPrediction,
		table.CSVFloat(row.RefusalRate), table.CSVFloat(row.AvgConfidence), row.ConfidenceCategory,
		strconv.FormatInt(row.NumTracesUsed, 10), strconv.FormatInt(row.TotalTokens, 10),
		table.CSVFloat(row.AvgTokensPerTrace), strconv.FormatInt(row.TracesGenerated, 10),
		strconv.FormatInt(row.TokensGenerated, 10), strconv.FormatInt(row.EarlyStopped, 10), row.Stop, threshold,
		csvFloats(row.Confidences), csvFloats(row.TraceConfidences), jsonArray(row.Refused), jsonArray(row.TokensPerTrace),
	}
}

func traceRow(t *record.Trace, gold string, withTokens bool) TraceRow {
	row := TraceRow{
		InstanceID: t.InstanceID, Index: int64(t.Index), GoldLabel: gold, Seed: t.Seed, Phase: t.Phase, Text: t.Text,
		Tokens: int64(t.Tokens), Finish: t.Finish, Used: t.Used, Label: t.Label, Rule: t.Rule,
		ConfidenceN: int64(t.Confidence.N), ConfidenceMean: t.Confidence.Mean, ConfidenceLowest: t.Confidence.LowestGroup,
		ConfidenceBottom: t.Confidence.Bottom, ConfidenceTail: t.Confidence.Tail, PrototypeConfidence: t.PrototypeConfidence,
		CountScored: int64(t.Counts.Scored), CountEmpty: int64(t.Counts.Empty), CountShort: int64(t.Counts.Short),
		CountNonFinite: int64(t.Counts.NonFinite), CountSentinel: int64(t.Counts.Sentinel), CountClamped: int64(t.Counts.Clamped),
	}
	if withTokens {
		row.TokenConfidences, row.TokenLogprobs = t.TokenConfidences, t.TokenLogprobs
	}
	return row
}

func (row *TraceRow) record(withTokens bool) []string {
	tc, tl := "", ""
	if withTokens {
		tc, tl = csvFloats32(row.TokenConfidences), csvFloats32(row.TokenLogprobs)
	}
	i := func(x int64) string { return strconv.FormatInt(x, 10) }
	return []string{
		row.InstanceID, i(row.Index), row.GoldLabel, strconv.FormatUint(row.Seed, 10), row.Phase, row.Text,
		i(row.Tokens), row.Finish, strconv.FormatBool(row.Used), row.Label, row.Rule, i(row.ConfidenceN),
		table.CSVFloat(row.ConfidenceMean), table.CSVFloat(row.ConfidenceLowest), table.CSVFloat(row.ConfidenceBottom),
		table.CSVFloat(row.ConfidenceTail), table.CSVFloat(row.PrototypeConfidence), i(row.CountScored), i(row.CountEmpty),
		i(row.CountShort), i(row.CountNonFinite), i(row.CountSentinel), i(row.CountClamped), tc, tl,
	}
}

// csvFloats formats a list as a JSON array (NaN → null, ±Inf →
// ±Infinity strings, as Float).
func csvFloats(xs []float64) string {
	fs := make([]analysis.Float, len(xs))
	for i, x := range xs {
		fs[i] = analysis.Float(x)
	}
	return jsonArray(fs)
}

func csvFloats32(xs []float32) string {
	if xs == nil {
		return "[]"
	}
	b := make([]byte, 0, 8*len(xs))
	b = append(b, '[')
	for i, x := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendFloat(b, float64(x), 'g', -1, 32)
	}
	return string(append(b, ']'))
}

func jsonArray[T any](xs []T) string {
	if xs == nil {
		return "[]"
	}
	b, err := json.Marshal(xs)
	if err != nil {
		return "[]"
	}
	return string(b)
}

// ExportOptions configure Export.
type ExportOptions struct {
	// Formats are the formats to write (ParseFormats).
	Formats []string
	// TokenArrays includes the per-token confidences and log-probabilities
	// in the trace exports (large: a full decode of traces.jsonl).
	TokenArrays bool
	// Tables are the tables of the md and latex exports (default
	// RunTables(r)).
	Tables []table.Table
}

// Export writes the requested exports of the analysed run d (scored by r)
// into dir: instances.csv and traces.csv (csv), instances.parquet and
// traces.parquet (parquet), tables.md (md) and tables.tex (latex). It
// returns the paths written. traces.jsonl is streamed once for both trace
// formats; runs without it get no trace export.
func Export(ctx context.Context, d *analysis.RunData, r *analysis.Result, dir string, o ExportOptions) ([]string, error) {
	want := map[string]bool{}
	for _, f := range o.Formats {
		want[f] = true
	}
	var written []string
	tables := o.Tables
	if tables == nil {
		tables = RunTables(r)
	}
	rows := InstanceRows(d, r)
	if want[FormatCSV] {
		p := filepath.Join(dir, InstancesCSV)
		err := atomicfile.Write(p, func(w io.Writer) error {
			return writeCSV(w, instanceHeader, len(rows), func(i int) []string { return rows[i].record() })
		})
		if err != nil {
			return written, err
		}
		written = append(written, p)
	}
	if want[FormatParquet] {
		p := filepath.Join(dir, InstancesParquet)
		err := atomicfile.Write(p, func(w io.Writer) error {
			pw := parquet.NewGenericWriter[InstanceRow](w, parquet.Compression(&parquet.Zstd), parquet.CreatedBy("deepconf", "", ""))
			if _, err := pw.Write(rows); err != nil {
				return err
			}
			return pw.Close()
		})
		if err != nil {
			return written, err
		}
		written = append(written, p)
	}
	if (want[FormatCSV] || want[FormatParquet]) && d.TracesPath != "" {
		ps, err := exportTraces(ctx, d, r, dir, want[FormatCSV], want[FormatParquet], o.TokenArrays)
		written = append(written, ps...)
		if err != nil {
			return written, err
		}
	}
	if want[FormatMarkdown] {
		p := filepath.Join(dir, TablesMarkdown)
		if err := atomicfile.Write(p, func(w io.Writer) error { return table.WriteMarkdown(w, tables) }); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	if want[FormatLaTeX] {
		p := filepath.Join(dir, TablesLaTeX)
		if err := atomicfile.Write(p, func(w io.Writer) error { return table.WriteLaTeX(w, tables) }); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}

func writeCSV(w io.Writer, header []string, n int, row func(int) []string) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	if err := cw.Write(header); err != nil {
		return err
	}
	for i := range n {
		if err := cw.Write(row(i)); err != nil {
			return err
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// exportTraces streams traces.jsonl once into traces.csv and/or
// traces.parquet, each replaced atomically (internal/atomicfile) when the
// whole stream was written.
func exportTraces(ctx context.Context, d *analysis.RunData, r *analysis.Result, dir string, doCSV, doParquet, tokens bool) ([]string, error) {
	gold := make(map[string]string, len(r.Instances))
	for _, in := range r.Instances {
		gold[in.ID] = in.Gold
	}
	var paths []string
	if doCSV {
		paths = append(paths, filepath.Join(dir, TracesCSV))
	}
	if doParquet {
		paths = append(paths, filepath.Join(dir, TracesParquet))
	}
	mode := analysis.ScanText
	if tokens {
		mode = analysis.ScanFull
	}
	err := writeAll(paths, func(ws []io.Writer) error {
		var (
			cw  *csv.Writer
			bw  *bufio.Writer
			pw  *parquet.GenericWriter[TraceRow]
			buf []TraceRow
		)
		if doCSV {
			bw = bufio.NewWriterSize(ws[0], 1<<16)
			cw = csv.NewWriter(bw)
			if err := cw.Write(traceHeader); err != nil {
				return err
			}
		}
		if doParquet {
			pw = parquet.NewGenericWriter[TraceRow](ws[len(ws)-1], parquet.Compression(&parquet.Zstd),
				parquet.CreatedBy("deepconf", "", ""), parquet.MaxRowsPerRowGroup(8192))
		}
		flush := func() error {
			if pw == nil || len(buf) == 0 {
				return nil
			}
			_, err := pw.Write(buf)
			buf = buf[:0]
			return err
		}
		err := analysis.ScanTraces(ctx, d.TracesPath, mode, func(line int, t *record.Trace) error {
			row := traceRow(t, gold[t.InstanceID], tokens)
			if cw != nil {
				if err := cw.Write(row.record(tokens)); err != nil {
					return err
				}
			}
			if pw != nil {
				buf = append(buf, row)
				if len(buf) == 1024 {
					return flush()
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("export traces: %w", err)
		}
		if err := flush(); err != nil {
			return err
		}
		if pw != nil {
			if err := pw.Close(); err != nil {
				return err
			}
		}
		if cw != nil {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return bw.Flush()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return paths, nil
}

// writeAll writes the files paths together: write gets a writer per path
// and each file is replaced atomically once write succeeded (the last path
// first); when write fails, no file is replaced.
func writeAll(paths []string, write func([]io.Writer) error) error {
	ws := make([]io.Writer, len(paths))
	var next func(i int) error
	next = func(i int) error {
		if i == len(paths) {
			return write(ws)
		}
		return atomicfile.Write(paths[i], func(w io.Writer) error {
			ws[i] = w
			return next(i + 1)
		})
	}
	return next(0)
}
