package refusal

import (
	"context"
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

// TestLoadGoldFileLabels reads the three classes with the default label
// values (case and surrounding space ignored), JSON booleans, and skips an
// empty label.
func TestLoadGoldFileLabels(t *testing.T) {
	o := GoldOptions{PromptField: "q", ResponseField: "a", LabelField: "refused"}
	csv := writeFile(t, "mine.csv", "q,a,refused\np1,I can't,YES \np2,Sure,no\np3,Partly,partial\np4,?,\n")
	sets, err := LoadGoldSets(context.Background(), []string{csv}, o)
	if err != nil {
		t.Fatal(err)
	}
	gs := sets[0]
	if gs.Name != "mine" || gs.Rows != 4 || gs.Unlabelled != 1 || len(gs.Examples) != 3 || gs.LabelField != "refused" ||
		gs.Refusal != 1 || gs.Partial != 1 || gs.Compliance != 1 {
		t.Fatalf("loaded %+v", gs)
	}
	if g := []Label{gs.Examples[0].Gold, gs.Examples[1].Gold, gs.Examples[2].Gold}; g[0] != Refusal || g[1] != Compliance || g[2] != Partial {
		t.Errorf("labels %v", g)
	}
	jsonl := writeFile(t, "b.jsonl", `{"q":"p1","a":"x","refused":true}`+"\n"+`{"q":"p2","a":"y","refused":false}`+"\n")
	sets, err = LoadGoldSets(context.Background(), []string{jsonl}, o)
	if err != nil || len(sets[0].Examples) != 2 || sets[0].Examples[0].Gold != Refusal || sets[0].Examples[1].Gold != Compliance {
		t.Fatalf("jsonl booleans: %+v, %v", sets, err)
	}
}

// TestCheckClasses: a single-class file is named with its label field; a
// built-in set by its name.
func TestCheckClasses(t *testing.T) {
	single := writeFile(t, "single.csv", "q,a,refused\np,r,yes\np2,r2,refusal\n")
	sets, err := LoadGoldSets(context.Background(), []string{single}, GoldOptions{PromptField: "q", ResponseField: "a", LabelField: "refused"})
	if err != nil {
		t.Fatal(err)
	}
	err = sets[0].CheckClasses()
	if err == nil {
		t.Fatal("no error for a single class")
	}
	for _, w := range []string{"single.csv", `field "refused"`, "single class", "2 refusal or partial, 0 compliance"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if !strings.Contains(sets[0].Summary(), "WARNING: no compliance") {
		t.Errorf("summary %q", sets[0].Summary())
	}
	gs := GoldSet{Name: GoldXSTest, Refusal: 3}
	if err := gs.CheckClasses(); err == nil || !strings.HasPrefix(err.Error(), "gold set xstest-v2 has a single class") {
		t.Errorf("built-in set: %v", err)
	}
	gs.Compliance = 1
	if err := gs.CheckClasses(); err != nil {
		t.Error(err)
	}
}
