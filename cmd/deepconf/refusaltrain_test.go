package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/refusal"
)

// writeLabelled writes a JSONL file of toy labelled responses: n prompts,
// each with a refusal and a compliance (field "refused": yes / no).
func writeLabelled(t *testing.T, dir, name string, n int) string {
	t.Helper()
	refusals := []string{"I'm sorry, but I can't help with that.", "I cannot assist with this request.", "Sorry, I won't do that."}
	answers := []string{"Sure, here is how: mix flour and water.", "The answer is 42.", "Paris is the capital of France."}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("%s prompt %d", name, i)
		_ = enc.Encode(map[string]string{"prompt": p, "response": refusals[i%3], "refused": "yes"})
		_ = enc.Encode(map[string]string{"prompt": p + "?", "response": answers[i%3], "refused": "no"})
	}
	path := filepath.Join(dir, name+".jsonl")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRefusalTrain(t *testing.T) {
	dir := t.TempDir()
	a := writeLabelled(t, dir, "a", 12)
	b := writeLabelled(t, dir, "b", 12)
	args := func(out string) []string {
		return []string{"--gold", a + "," + b, "--label-field", "refused", "--folds", "3", "--lambda", "0.01", "--bits", "12", "--loso", "--out", out}
	}
	out1 := filepath.Join(dir, "m1.model")
	stdout, stderr, err := execute(newRefusalTrainCmd(), args(out1)...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"Leave-one-set-out", "3-fold cross-validation", "classifier fold 3", "classifier pooled", " a ", " b "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	out2 := filepath.Join(dir, "m2.model")
	if _, stderr, err := execute(newRefusalTrainCmd(), args(out2)...); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	b1, _ := os.ReadFile(out1)
	b2, _ := os.ReadFile(out2)
	// The header records the command, which names the output file.
	if !bytes.Equal(bytes.ReplaceAll(b1, []byte("m1.model"), []byte("m2.model")), b2) {
		t.Error("the same command and seed gave different model files")
	}
	d, err := refusal.New("classifier:" + out1)
	if err != nil {
		t.Fatal(err)
	}
	if h := strings.Join(d.(*refusal.Classifier).Model().Header, "\n"); !strings.Contains(h, "--label-field=refused") ||
		!strings.Contains(h, "Leave-one-set-out scores") || !strings.Contains(h, "a (trained on b): P ") {
		t.Errorf("model header lacks the command or the leave-one-set-out scores:\n%s", h)
	}
}

func TestRefusalTrainErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := write("missing.csv", "prompt,response,label\np,r,yes\n")
	unknown := write("unknown.csv", "prompt,response,refused\np,r,yes\nq,s,perhaps\n")
	single := write("single.csv", "prompt,response,refused\np,r,yes\nq,s,yes\n")
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"missing label field", []string{"--gold", missing, "--label-field", "refused"}, []string{"missing.csv", `"refused"`}},
		{"unknown label value", []string{"--gold", unknown, "--label-field", "refused"}, []string{"unknown.csv", `"refused"`, `"perhaps"`}},
		{"single class", []string{"--gold", single, "--label-field", "refused"}, []string{"single.csv", `"refused"`, "single class"}},
		{"folds", []string{"--gold", single, "--folds", "1"}, []string{"--folds 1"}},
		{"threshold", []string{"--gold", single, "--threshold", "1"}, []string{"--threshold"}},
		{"lambda", []string{"--gold", single, "--lambda", "-1"}, []string{"--lambda"}},
		{"bits", []string{"--gold", single, "--bits", "30"}, []string{"bits 30"}},
		{"loso with one set", []string{"--gold", writeLabelled(t, dir, "c", 4), "--label-field", "refused", "--loso"}, []string{"--loso"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := execute(newRefusalTrainCmd(), append(tt.args, "--out", filepath.Join(dir, "x.model"))...)
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
	if _, err := os.Stat(filepath.Join(dir, "x.model")); err == nil {
		t.Error("a failed run wrote a model file")
	}
}
