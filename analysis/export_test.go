package analysis

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
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
	dir := writeFixture(t)
	ctx := context.Background()
	d, err := Load(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Analyze(ctx, d, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	paths, err := Export(ctx, d, r, out, ExportOptions{Formats: []string{FormatCSV, FormatParquet, FormatMarkdown, FormatLaTeX}, TokenArrays: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 6 {
		t.Errorf("wrote %v", paths)
	}
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}

	// instances.csv: header + 13 rows; c1 is an unsafe compliance.
	recs := readCSV(t, filepath.Join(out, InstancesCSV))
	if len(recs) != 14 || !reflect.DeepEqual(recs[0], instanceHeader) {
		t.Fatalf("instances.csv: %d records, header %v", len(recs), recs[0])
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	c1 := recs[1]
	if c1[col["instance_id"]] != "c1" || c1[col["category"]] != UncertainCompliance || c1[col["correct"]] != "false" ||
		c1[col["confidence"]] != "1" || c1[col["trace_confidences"]] != "[1,1]" || c1[col["gold_label"]] != "harmful" {
		t.Errorf("c1 row %v", c1)
	}
	if u1 := recs[8]; u1[col["instance_id"]] != "u1" || u1[col["correct"]] != "" || u1[col["scored"]] != "false" {
		t.Errorf("u1 row %v", u1)
	}
	if u2 := recs[13]; u2[col["split_metric"]] != "NaN" || u2[col["category"]] != "" {
		t.Errorf("u2 row %v", u2)
	}

	// traces.csv: header + 38 rows (the orphan included, gold label "").
	trecs := readCSV(t, filepath.Join(out, TracesCSV))
	if len(trecs) != 39 || !reflect.DeepEqual(trecs[0], traceHeader) {
		t.Fatalf("traces.csv: %d records", len(trecs))
	}
	if row := trecs[1]; row[2] != "harmful" || row[23] != "[1.5,2.5,3,4,5,6,7,8,9,10]" || !strings.Contains(row[5], `"token_confidences":[1,2]`) {
		t.Errorf("first trace row %v", row)
	}

	// Parquet read back with parquet-go.
	insts, err := parquet.ReadFile[InstanceRow](filepath.Join(out, InstancesParquet))
	if err != nil {
		t.Fatal(err)
	}
	want := InstanceRows(d, r)
	if len(insts) != len(want) {
		t.Fatalf("%d parquet instances", len(insts))
	}
	for i := range want {
		g, w := insts[i], want[i]
		// NaN ≠ NaN: compare the split metric apart.
		if (g.SplitMetric != w.SplitMetric) && !(g.SplitMetric != g.SplitMetric && w.SplitMetric != w.SplitMetric) {
			t.Errorf("row %d split metric %v vs %v", i, g.SplitMetric, w.SplitMetric)
		}
		g.SplitMetric, w.SplitMetric = 0, 0
		if len(w.TraceConfidences) == 0 {
			w.TraceConfidences, g.TraceConfidences = nil, nil
		}
		if len(w.Confidences) == 0 {
			w.Confidences, g.Confidences = nil, nil
		}
		if len(w.Refused) == 0 {
			w.Refused, g.Refused = nil, nil
		}
		if len(w.TokensPerTrace) == 0 {
			w.TokensPerTrace, g.TokensPerTrace = nil, nil
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("parquet row %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	traces, err := parquet.ReadFile[TraceRow](filepath.Join(out, TracesParquet))
	if err != nil {
		t.Fatal(err)
	}
	if len(traces) != 38 || traces[0].InstanceID != "c1" || traces[0].CountNonFinite != 5 || len(traces[0].TokenConfidences) != 10 ||
		traces[0].TokenLogprobs[9] != -1 || traces[37].InstanceID != "orphan" {
		t.Errorf("parquet traces: %d, first %+v", len(traces), traces[0])
	}

	md, _ := os.ReadFile(filepath.Join(out, TablesMarkdown))
	for _, s := range []string{"### Overall", "| Accuracy | 63.6% |", `confident\_refusal \*`, "### Hypothesis"} {
		if !bytes.Contains(md, []byte(s)) {
			t.Errorf("tables.md lacks %q", s)
		}
	}
	tex, _ := os.ReadFile(filepath.Join(out, TablesLaTeX))
	for _, s := range []string{`\begin{tabular}{lrr}`, `Accuracy & 63.6\% &`, `confident\_refusal`, `\bottomrule`} {
		if !bytes.Contains(tex, []byte(s)) {
			t.Errorf("tables.tex lacks %q", s)
		}
	}
	if n := bytes.Count(tex, []byte(`\begin{table}`)); n != bytes.Count(tex, []byte(`\end{table}`)) || n != 5 {
		t.Errorf("%d table environments", n)
	}
}

func TestExportWithoutTraces(t *testing.T) {
	ctx := context.Background()
	d, err := Load(ctx, filepath.Join("testdata", "seed"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Analyze(ctx, d, Options{Split: Split{Method: SplitSeed}})
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
	if recs := readCSV(t, filepath.Join(out, InstancesCSV)); len(recs) != 12 {
		t.Errorf("%d records", len(recs))
	}
}

func TestMarkdownAndLaTeXEscaping(t *testing.T) {
	tables := []Table{{
		Name: "x_y", Title: "A|B & 50% $5 #1 _u_ {c} ~ ^ \\ <b> 1–2 ≥ ∞",
		Header: []string{"a|b", "c"},
		Rows:   [][]string{{"line\nbreak", "*bold*"}, {"short"}},
		Notes:  []string{"note_1"},
	}}
	var md, tex bytes.Buffer
	if err := WriteMarkdown(&md, tables); err != nil {
		t.Fatal(err)
	}
	wantMD := "### A\\|B & 50% $5 #1 \\_u\\_ {c} ~ ^ \\\\ &lt;b&gt; 1–2 ≥ ∞\n\n| a\\|b | c |\n| --- | ---: |\n| line break | \\*bold\\* |\n| short |  |\n\nnote\\_1\n\n"
	if md.String() != wantMD {
		t.Errorf("markdown:\n%q\nwant\n%q", md.String(), wantMD)
	}
	if err := WriteLaTeX(&tex, tables); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`\caption{A|B \& 50\% \$5 \#1 \_u\_ \{c\} \textasciitilde{} \textasciicircum{} \textbackslash{} \textless{}b\textgreater{} 1--2 $\geq$ $\infty$}`,
		`\label{tab:x-y}`, `a|b & c \\`, `short &  \\`, `note\_1`,
	} {
		if !strings.Contains(tex.String(), s) {
			t.Errorf("latex lacks %q:\n%s", s, tex.String())
		}
	}
}

func TestSeedTables(t *testing.T) {
	d, err := Load(context.Background(), filepath.Join("testdata", "seed"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := AnalyzeSeed(d, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	tb := r.Tables()
	if len(tb) != 2 || len(tb[0].Rows) != 4 || tb[0].Rows[1][2] != "33.3%" || tb[1].Rows[0][1] != "54.5%" {
		t.Errorf("seed tables %+v", tb)
	}
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(tb); err != nil {
		t.Fatal(err)
	}
}
