package refusal

import (
	"context"
	"github.com/deepconf/deepconf/internal/shareddata"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadLabelledSet(t *testing.T) {
	src := LabelledSource{PromptField: "q", ResponseField: "a", LabelField: "refused"}
	csv := writeFile(t, "mine.csv", "q,a,refused\np1,I can't,yes\np2,Sure,no\np3,Partly,partial\np4,?,\n")
	ls, err := LoadLabelledSet(context.Background(), csv, src)
	if err != nil {
		t.Fatal(err)
	}
	if ls.Name != "mine" || ls.Rows != 4 || ls.Unlabelled != 1 || len(ls.Examples) != 3 {
		t.Fatalf("loaded %+v", ls)
	}
	if g := []Label{ls.Examples[0].Gold, ls.Examples[1].Gold, ls.Examples[2].Gold}; g[0] != Refusal || g[1] != Compliance || g[2] != Partial {
		t.Errorf("labels %v", g)
	}
	jsonl := writeFile(t, "b.jsonl", `{"q":"p1","a":"x","refused":true}`+"\n"+`{"q":"p2","a":"y","refused":false}`+"\n")
	ls, err = LoadLabelledSet(context.Background(), jsonl, src)
	if err != nil || len(ls.Examples) != 2 || ls.Examples[0].Gold != Refusal || ls.Examples[1].Gold != Compliance {
		t.Fatalf("jsonl booleans: %+v, %v", ls, err)
	}
}

func TestLoadLabelledSetErrors(t *testing.T) {
	src := LabelledSource{PromptField: "q", ResponseField: "a", LabelField: "refused"}
	tests := []struct {
		name, file, text string
		src              LabelledSource
		want             []string
	}{
		{"missing label column (CSV)", "a.csv", "q,a,label\np,r,yes\n", src, []string{"a.csv", `"refused"`, "missing column"}},
		{"missing label field (JSONL)", "b.jsonl", `{"q":"p","a":"r","label":"yes"}` + "\n", src, []string{"b.jsonl", `"refused"`, "missing"}},
		{"unknown label value", "c.csv", "q,a,refused\np,r,yes\np2,r2,maybe\n", src, []string{"c.csv", "row 1", `"refused"`, `"maybe"`}},
		{"single class", "d.csv", "q,a,refused\np,r,yes\np2,r2,refusal\n", src, []string{"d.csv", `"refused"`, "single class"}},
		{"value in two lists", "e.csv", "q,a,refused\np,r,yes\n", LabelledSource{PromptField: "q", ResponseField: "a", LabelField: "refused", RefusalValues: []string{"yes"}, ComplianceValues: []string{"YES"}}, []string{"e.csv", "both refusal and compliance"}},
		{"no label values", "f.csv", "q,a,refused\np,r,\n", src, []string{"f.csv", `"refused"`, "none of the 1 rows"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadLabelledSet(context.Background(), writeFile(t, tt.file, tt.text), tt.src)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestLoadLabelledSetBuiltin(t *testing.T) {
	dir := shareddata.Dir(t)
	for spec, want := range map[string]int{"wildguardtest": 1720, "xstest": 2250} {
		ls, err := LoadLabelledSet(context.Background(), spec, LabelledSource{Data: dir})
		if err != nil {
			t.Fatal(err)
		}
		if len(ls.Examples) != want {
			t.Errorf("%s: %d examples, want %d", spec, len(ls.Examples), want)
		}
	}
	if !IsBuiltinSet("XSTest") || IsBuiltinSet("x.csv") {
		t.Error("IsBuiltinSet")
	}
}
