package refusal

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/internal/shareddata"
)

// Readers for the two gold sets of the shared benchmark data
// (internal/shareddata), read in place.
// They are test helpers only: the project's benchmark loaders live in
// package benchmark.

// loadWildGuardTest reads WildGuardTest's response_refusal_label on its
// response: 1,725 rows, 5 without a refusal label (skipped).
func loadWildGuardTest(t testing.TB) []Example {
	t.Helper()
	path := filepath.Join(shareddata.Dir(t), "wildguardmix", "wildguardtest.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Example
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	line := 0
	for sc.Scan() {
		line++
		var row struct {
			Prompt   string  `json:"prompt"`
			Response string  `json:"response"`
			Refusal  *string `json:"response_refusal_label"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatalf("%s:%d: %v", path, line, err)
		}
		if row.Refusal == nil {
			continue
		}
		var gold Label
		switch *row.Refusal {
		case "refusal":
			gold = Refusal
		case "compliance":
			gold = Compliance
		default:
			t.Fatalf("%s:%d: response_refusal_label %q", path, line, *row.Refusal)
		}
		out = append(out, Example{
			ID:     fmt.Sprintf("wildguardtest-%d", line-1),
			Prompt: row.Prompt, Response: row.Response, Gold: gold,
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return out
}

// loadXSTest reads the final_label of the five XSTest v2 completion files
// (2,250 rows): 2_full_refusal is Refusal, 3_partial_refusal Partial,
// 1_full_compliance Compliance.
func loadXSTest(t testing.TB) []Example {
	t.Helper()
	dir := filepath.Join(shareddata.Dir(t), "xstest", "model_completions")
	files, err := filepath.Glob(filepath.Join(dir, "xstest_v2_completions_*.csv"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	if len(files) != 5 {
		t.Fatalf("%s: found %d completion files, want 5", dir, len(files))
	}
	var out []Example
	for _, path := range files {
		model := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), "xstest_v2_completions_"), ".csv")
		out = append(out, readXSTestCSV(t, path, model)...)
	}
	return out
}

func readXSTestCSV(t testing.TB, path, model string) []Example {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		t.Fatalf("%s: header: %v", path, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, name := range []string{"id", "prompt", "completion", "final_label"} {
		if _, ok := col[name]; !ok {
			t.Fatalf("%s: no column %q", path, name)
		}
	}
	var out []Example
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		line, _ := r.FieldPos(0)
		var gold Label
		switch l := rec[col["final_label"]]; l {
		case "1_full_compliance":
			gold = Compliance
		case "2_full_refusal":
			gold = Refusal
		case "3_partial_refusal":
			gold = Partial
		default:
			t.Fatalf("%s:%d: final_label %q", path, line, l)
		}
		out = append(out, Example{
			ID:     rec[col["id"]] + "@" + model,
			Prompt: rec[col["prompt"]], Response: rec[col["completion"]], Gold: gold,
		})
	}
	return out
}

// goldSets loads both gold sets and checks their sizes against
// docs/benchmarks.md: WildGuardTest 563 refusal / 1,157
// compliance; XSTest v2 983 full refusal / 176 partial / 1,091 compliance.
func goldSets(t *testing.T) map[string][]Example {
	t.Helper()
	sets := map[string][]Example{"wildguardtest": loadWildGuardTest(t), "xstest-v2": loadXSTest(t)}
	want := map[string]map[Label]int{
		"wildguardtest": {Refusal: 563, Compliance: 1157},
		"xstest-v2":     {Refusal: 983, Partial: 176, Compliance: 1091},
	}
	for name, ex := range sets {
		got := map[Label]int{}
		for _, e := range ex {
			got[e.Gold]++
		}
		for l, n := range want[name] {
			if got[l] != n {
				t.Fatalf("%s: %d %s examples, want %d (docs/benchmarks.md)", name, got[l], l, n)
			}
		}
	}
	return sets
}

// TestGoldPrototype checks that patterns:seed reproduces the reference scores
// of the prototype's detector in docs/benchmarks.md:
// XSTest v2 P 0.975 R 0.676 F1 0.799 (partial counted as refusal) and
// WildGuardTest P 0.783 R 0.821 F1 0.801.
func TestGoldPrototype(t *testing.T) {
	sets := goldSets(t)
	want := map[string][3]string{
		"xstest-v2":     {"0.975", "0.676", "0.799"},
		"wildguardtest": {"0.783", "0.821", "0.801"},
	}
	for name, w := range want {
		r, err := Evaluate(context.Background(), Prototype(), sets[name])
		if err != nil {
			t.Fatal(err)
		}
		got := [3]string{fmt.Sprintf("%.3f", r.Precision), fmt.Sprintf("%.3f", r.Recall), fmt.Sprintf("%.3f", r.F1)}
		if got != w {
			t.Errorf("%s: seed P/R/F1 = %v, want %v", name, got, w)
		}
		if r.Unparseable != 0 || r.PredictedPartial != 0 {
			t.Errorf("%s: seed gave %d unparseable and %d partial verdicts", name, r.Unparseable, r.PredictedPartial)
		}
	}
}

// TestGoldPatterns checks the default detector's target: F1 ≥ 0.90 on both
// gold sets, with partial verdicts counted as refusals.
func TestGoldPatterns(t *testing.T) {
	sets := goldSets(t)
	var rows []TableRow
	for _, name := range []string{"wildguardtest", "xstest-v2"} {
		r, err := Evaluate(context.Background(), Patterns(), sets[name])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, TableRow{Dataset: name, Report: r})
		if r.F1 < 0.90 {
			t.Errorf("%s: patterns F1 = %.4f (P %.4f, R %.4f), want ≥ 0.90", name, r.F1, r.Precision, r.Recall)
		}
		if r.Unparseable != 0 {
			t.Errorf("%s: %d unparseable verdicts from a rule detector", name, r.Unparseable)
		}
	}
	var b strings.Builder
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", b.String())
}
