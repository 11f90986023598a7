package runreport

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/record"
)

// near reports whether x is within tol of want.
func near(x analysis.Float, want, tol float64) bool { return math.Abs(float64(x)-want) <= tol }

// TestCompareOutputs compares hand-made runs whose McNemar counts are
// known: on xstest, A is right on 11 of 12 instances and B on 2 (one shared
// with A): b = 10, c = 1, so the exact p is 2·(1 + 11)/2¹¹ (the binomial
// tail) and χ² = (|10 − 1| − 1)²/11 = 64/11 with p = erfc(√(32/11))
// (P(χ²₁ > x) = erfc(√(x/2))). The third run is on another benchmark. With
// every hypothesis untestable, Benjamini–Hochberg adjusts the two p-values:
// the larger stays, the smaller becomes min(2·p, larger) = the larger.
func TestCompareOutputs(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "c")
	handRunDir(t, a, "Qwen/Qwen3-1.7B", "xstest", "deepconf", "111111111101")
	handRunDir(t, b, "Qwen/Qwen3-0.6B", "xstest", "deepconf", "100000000010")
	handRunDir(t, c, "Qwen/Qwen3-0.6B", "toxicchat", "deepconf", "1100")
	cmp, err := Compare(context.Background(), []string{a, b, c}, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}

	js := filepath.Join(root, "out", "out.json")
	if w, err := WriteComparison(js, cmp); err != nil || len(w) != 1 || w[0] != js {
		t.Fatalf("wrote %v: %v", w, err)
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var got analysis.Comparison
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, r := range got.Runs {
		order = append(order, r.Benchmark+":"+r.Label)
	}
	if got := strings.Join(order, " "); got != "toxicchat:Qwen/Qwen3-0.6B xstest:Qwen/Qwen3-0.6B xstest:Qwen/Qwen3-1.7B" {
		t.Errorf("run order %s", got)
	}
	if len(got.Pairs) != 1 {
		t.Fatalf("%d pairs, want 1", len(got.Pairs))
	}
	p := got.Pairs[0]
	chiP := math.Erfc(math.Sqrt(32.0 / 11))
	if p.RunA != "Qwen/Qwen3-0.6B" || p.Shared != 12 || p.AOnly != 1 || p.BOnly != 10 || p.BothCorrect != 1 || p.BothWrong != 0 ||
		!near(p.Exact.P, 24.0/2048, 1e-15) || !near(p.ChiSq, 64.0/11, 1e-12) || !near(p.ChiSqP.P, chiP, 1e-12) ||
		!near(p.Exact.Adjusted, 24.0/2048, 1e-15) || !math.IsNaN(float64(p.ChiSqP.Adjusted)) || got.Tests != 1 {
		t.Errorf("pair %+v, %d tests", p, got.Tests)
	}

	csvOut := filepath.Join(root, "out.csv")
	w, err := WriteComparison(csvOut, cmp)
	pairsCSV := filepath.Join(root, "out_pairs.csv")
	calCSV := filepath.Join(root, "out_calibration_pairs.csv")
	if err != nil || len(w) != 3 || w[1] != pairsCSV || w[2] != calCSV {
		t.Fatalf("wrote %v: %v", w, err)
	}
	// One calibration pair per score both xstest runs have (β and the
	// DeepConf confidence).
	for path, rows := range map[string]int{csvOut: 4, pairsCSV: 2, calCSV: 1 + len(cmp.Calibration.Pairs)} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(recs) != rows {
			t.Errorf("%s: %v, %d rows, want %d", path, err, len(recs), rows)
		}
		if path == pairsCSV {
			if x, err := strconv.ParseFloat(recs[1][10], 64); err != nil || math.Abs(x-24.0/2048) > 1e-15 {
				t.Errorf("pairs CSV p exact %q", recs[1][10])
			}
		}
		col := map[string]int{}
		for i, h := range recs[0] {
			col[h] = i
		}
		num := func(rec []string, name string) float64 {
			i, ok := col[name]
			if !ok {
				t.Fatalf("%s: no column %q", path, name)
			}
			x, err := strconv.ParseFloat(rec[i], 64)
			if err != nil {
				t.Fatalf("%s: %s = %q: %v", path, name, rec[i], err)
			}
			return x
		}
		switch path {
		case csvOut:
			// The runs CSV ends with each run's calibration, as in the
			// comparison (same order).
			for i, rec := range recs[1:] {
				cr := cmp.Calibration.Runs[i]
				if rec[col["label"]] != cr.Label || len(cr.Scores) == 0 {
					t.Fatalf("runs CSV row %d: %s, calibration run %+v", i, rec[col["label"]], cr)
				}
				s := cr.Scores[0]
				if s.Score != analysis.ScoreBeta || num(rec, "beta_ece") != float64(s.ECE.Value) || num(rec, "beta_brier_lo") != float64(s.Brier.Lo) ||
					num(rec, "beta_aurc_hi") != float64(s.AURC.Hi) || !sameFloat(num(rec, "beta_auroc"), float64(s.AUROC.Value)) {
					t.Errorf("runs CSV row %d: %v, want %+v", i, rec, s)
				}
			}
		case calCSV:
			if len(cmp.Calibration.Pairs) != 2 {
				t.Fatalf("%d calibration pairs, want 2 (β and confidence of the xstest runs)", len(cmp.Calibration.Pairs))
			}
			for i, rec := range recs[1:] {
				p := cmp.Calibration.Pairs[i]
				if rec[col["score"]] != p.Score || num(rec, "shared") != 12 || rec[col["run_a"]] != p.RunA {
					t.Errorf("calibration pair %d: %v", i, rec)
				}
				for _, m := range []string{"ece", "brier", "aurc"} {
					if d := num(rec, m+"_a") - num(rec, m+"_b") - num(rec, m+"_diff"); math.Abs(d) > 1e-12 {
						t.Errorf("calibration pair %d: %s difference off by %g", i, m, d)
					}
				}
			}
		}
	}

	// The tables: the runs, the benchmark matrix, the paired test (its
	// p-values rounded: 0.0117 → 0.012, 0.0159 → 0.016; 11 discordant
	// pairs are a small sample).
	tables := CompareTables(cmp)
	var ids []string
	for _, tb := range tables {
		ids = append(ids, tb.ID)
	}
	if got := strings.Join(ids, " "); got != "models benchmarks paired calibration-runs calibration-pairs" {
		t.Errorf("tables %s", got)
	}
	md := filepath.Join(root, "out.md")
	if _, err := WriteComparison(md, cmp); err != nil {
		t.Fatal(err)
	}
	mdb, _ := os.ReadFile(md)
	for _, want := range []string{"### Model comparison", "### Benchmark comparison", "### Paired comparisons",
		"| xstest | Qwen/Qwen3-0.6B | Qwen/Qwen3-1.7B | 12 | 1 | 1 | 10 | 0 | 0.012 | 0.012 | 5.818 | 0.016 | – | yes |",
		"| toxicchat | Qwen/Qwen3-0.6B | deepconf | 4 / 4 | 0.500 |"} {
		if !strings.Contains(string(mdb), want) {
			t.Errorf("Markdown lacks %q:\n%s", want, mdb)
		}
	}
	tex := filepath.Join(root, "out.tex")
	if _, err := WriteComparison(tex, cmp); err != nil {
		t.Fatal(err)
	}
	if texb, _ := os.ReadFile(tex); !strings.Contains(string(texb), `\label{tab:paired}`) {
		t.Errorf("LaTeX:\n%s", texb)
	}
	if _, err := WriteComparison(filepath.Join(root, "x.html"), cmp); err == nil || !strings.Contains(err.Error(), ".md, .csv, .json or .tex") {
		t.Errorf("x.html: %v", err)
	}
}

// TestCompareUnpaired checks that two runs of one benchmark without a
// shared instance get no paired table and are named in the notes.
func TestCompareUnpaired(t *testing.T) {
	root := t.TempDir()
	a, b := filepath.Join(root, "a"), filepath.Join(root, "b")
	handRunDir(t, a, "Qwen/Qwen3-1.7B", "xstest", "deepconf", "1101")
	handRunDir(t, b, "Qwen/Qwen3-0.6B", "xstest", "deepconf", "10")
	path := filepath.Join(b, record.PredictionsFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.ReplaceAll(raw, []byte("xstest_test_"), []byte("xstest_other_")), 0o644); err != nil {
		t.Fatal(err)
	}
	cmp, err := Compare(context.Background(), []string{a, b}, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tables := CompareTables(cmp)
	var ids []string
	for _, tb := range tables {
		ids = append(ids, tb.ID)
	}
	if got := strings.Join(ids, " "); got != "models benchmarks calibration-runs" {
		t.Fatalf("tables %s, want no paired table", got)
	}
	if notes := strings.Join(tables[0].Notes, " "); !strings.Contains(notes, "Not compared: xstest: ") || !strings.Contains(notes, "share no scored instance") {
		t.Errorf("notes %q", notes)
	}
}

func TestCompareErrors(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	handRunDir(t, a, "m", "xstest", "deepconf", "10")
	empty := filepath.Join(root, "empty")
	handRunDir(t, empty, "m", "xstest", "deepconf", "")
	tests := []struct {
		name string
		dirs []string
		o    CompareOptions
		want string
	}{
		{"no dirs", nil, CompareOptions{}, "no runs"},
		{"twice", []string{a, a + "/"}, CompareOptions{}, "given twice"},
		{"missing", []string{filepath.Join(root, "nope")}, CompareOptions{}, "no such file"},
		{"no predictions", []string{empty}, CompareOptions{}, "no predictions"},
	}
	for _, tt := range tests {
		_, err := Compare(context.Background(), tt.dirs, tt.o)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want one containing %q", tt.name, err, tt.want)
		}
	}
}

// sameFloat reports whether x and y are equal or both NaN.
func sameFloat(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
