package runreport

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/table"
)

func TestParseFormats(t *testing.T) {
	got, err := ParseFormats(" csv,Parquet ,tex,csv")
	if err != nil || !reflect.DeepEqual(got, []string{"csv", "parquet", "latex"}) {
		t.Errorf("got %v, %v", got, err)
	}
	if got, _ := ParseFormats("all"); len(got) != 4 {
		t.Errorf("all: %v", got)
	}
	if _, err := ParseFormats("csv,xlsx"); err == nil || !strings.Contains(err.Error(), "xlsx") {
		t.Errorf("xlsx: %v", err)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

func TestExportReadBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	fakeRun(t, dir, "Qwen/Qwen3-0.6B", 30, false, 11, true)
	ctx := context.Background()
	d, err := analysis.Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := analysis.Analyze(ctx, d, analysis.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := Export(ctx, d, r, out, ExportOptions{Formats: []string{FormatCSV, FormatParquet, FormatMarkdown, FormatLaTeX}, TokenArrays: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{InstancesCSV, InstancesParquet, TracesCSV, TracesParquet, TablesMarkdown, TablesLaTeX}
	if len(paths) != len(want) {
		t.Fatalf("wrote %v", paths)
	}
	for i, p := range paths {
		if p != filepath.Join(out, want[i]) {
			t.Errorf("path %d: %s, want %s", i, p, want[i])
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != len(want) {
		t.Errorf("%d files in the output directory (a temporary file left?)", len(entries))
	}

	// instances.csv: a header and a row per prediction, scored as the
	// analysis scored it.
	recs := readCSV(t, filepath.Join(out, InstancesCSV))
	if len(recs) != 31 || !reflect.DeepEqual(recs[0], instanceHeader) {
		t.Fatalf("instances.csv: %d records, header %v", len(recs), recs[0])
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for i, in := range r.Instances {
		row := recs[i+1]
		p := d.Predictions[i]
		if row[col["instance_id"]] != in.ID || row[col["category"]] != in.Category || row[col["correct"]] != strconv.FormatBool(in.Correct) ||
			row[col["confidence"]] != table.CSVFloat(p.Confidence) || row[col["gold_label"]] != in.Gold {
			t.Errorf("row %d: %v, instance %+v", i, row, in)
		}
		// The cross-fitted probabilities of the calibration block: every
		// instance of the fake run is scored and has both scores.
		if row[col["p_beta"]] != table.CSVFloat(in.PBeta) || row[col["p_confidence"]] != table.CSVFloat(in.PConfidence) ||
			!(in.PBeta >= 0 && in.PBeta <= 1) || !(in.PConfidence >= 0 && in.PConfidence <= 1) {
			t.Errorf("row %d: p_beta %q, p_confidence %q; instance %v, %v", i, row[col["p_beta"]], row[col["p_confidence"]], in.PBeta, in.PConfidence)
		}
		var confs []float64
		if err := json.Unmarshal([]byte(row[col["trace_confidences"]]), &confs); err != nil || !reflect.DeepEqual(confs, p.TraceConfidences) {
			t.Errorf("row %d: trace confidences %s: %v", i, row[col["trace_confidences"]], err)
		}
	}

	// traces.csv: a row per stored trace, in file order, with the gold
	// label of its instance and the token arrays.
	var stored []record.Trace
	if err := analysis.ScanTraces(ctx, d.TracesPath, analysis.ScanFull, func(_ int, tr *record.Trace) error {
		stored = append(stored, *tr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	trecs := readCSV(t, filepath.Join(out, TracesCSV))
	if len(trecs) != len(stored)+1 || !reflect.DeepEqual(trecs[0], traceHeader) {
		t.Fatalf("traces.csv: %d records for %d traces", len(trecs), len(stored))
	}
	gold := map[string]string{}
	for _, in := range r.Instances {
		gold[in.ID] = in.Gold
	}
	for i, tr := range stored {
		row := trecs[i+1]
		var tc []float32
		if err := json.Unmarshal([]byte(row[23]), &tc); err != nil || !reflect.DeepEqual(tc, tr.TokenConfidences) {
			t.Fatalf("trace %d: token confidences %.40s: %v", i, row[23], err)
		}
		if row[0] != tr.InstanceID || row[2] != gold[tr.InstanceID] || row[5] != tr.Text || row[13] != table.CSVFloat(tr.Confidence.LowestGroup) {
			t.Fatalf("trace %d: row %v", i, row[:14])
		}
	}

	// Parquet read back with parquet-go.
	insts, err := parquet.ReadFile[InstanceRow](filepath.Join(out, InstancesParquet))
	if err != nil {
		t.Fatal(err)
	}
	if rows := InstanceRows(d, r); !reflect.DeepEqual(insts, rows) {
		t.Errorf("instances.parquet differs from InstanceRows:\n got %+v\nwant %+v", insts[0], rows[0])
	}
	traces, err := parquet.ReadFile[TraceRow](filepath.Join(out, TracesParquet))
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != len(stored) {
		t.Fatalf("traces.parquet: %d rows for %d traces", len(traces), len(stored))
	}
	for i, tr := range stored {
		if want := traceRow(&tr, gold[tr.InstanceID], true); !reflect.DeepEqual(traces[i], want) {
			t.Fatalf("traces.parquet row %d:\n got %+v\nwant %+v", i, traces[i], want)
		}
	}

	// The tables are the run's tables, byte for byte.
	var md, tex bytes.Buffer
	if err := table.WriteMarkdown(&md, RunTables(r)); err != nil {
		t.Fatal(err)
	}
	if err := table.WriteLaTeX(&tex, RunTables(r)); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{TablesMarkdown: md.Bytes(), TablesLaTeX: tex.Bytes()} {
		if got, _ := os.ReadFile(filepath.Join(out, path)); !bytes.Equal(got, want) {
			t.Errorf("%s:\n%s\nwant\n%s", path, got, want)
		}
	}
}

func TestExportWithoutTraces(t *testing.T) {
	ctx := context.Background()
	d, err := analysis.Load(ctx, filepath.Join("..", "analysis", "testdata", "seed"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := analysis.Analyze(ctx, d, analysis.Options{Split: analysis.Split{Method: analysis.SplitPrototype}})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := Export(ctx, d, r, out, ExportOptions{Formats: []string{FormatCSV, FormatParquet}})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Errorf("a run without traces.jsonl exports instances only: %v", paths)
	}
	recs := readCSV(t, filepath.Join(out, InstancesCSV))
	if len(recs) != 12 {
		t.Errorf("%d records", len(recs))
	}
}

// TestPrototypeTables checks the prototype-scoring tables against the fixture's
// prototype analysis.json: the second category is right on 1 of 3, and 6
// of the 11 predictions are right overall.
func TestPrototypeTables(t *testing.T) {
	d, err := analysis.Load(context.Background(), filepath.Join("..", "analysis", "testdata", "seed"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := analysis.AnalyzePrototype(d, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := PrototypeTables(r)
	if len(tb) != 2 || len(tb[0].Rows) != 4 || tb[0].Rows[1][2] != "0.333" || tb[1].Rows[0][1] != "0.545" {
		t.Errorf("prototype tables %+v", tb)
	}
	for _, x := range tb {
		if err := x.Validate(); err != nil {
			t.Error(err)
		}
	}
}
