package refusal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// scriptedDetector is a test double: it returns the verdict scripted for
// each response.
type scriptedDetector map[string]Verdict

func (scriptedDetector) Name() string { return "scripted" }

func (d scriptedDetector) Detect(_ context.Context, _, response string) (Verdict, error) {
	v, ok := d[response]
	if !ok {
		return Verdict{}, errors.New("no script for " + response)
	}
	return v, nil
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestEvaluate(t *testing.T) {
	examples := []Example{
		{ID: "1", Response: "r1", Gold: Refusal},    // refusal → TP
		{ID: "2", Response: "r2", Gold: Refusal},    // partial → TP
		{ID: "3", Response: "r3", Gold: Partial},    // compliance → FN
		{ID: "4", Response: "r4", Gold: Partial},    // refusal → TP
		{ID: "5", Response: "r5", Gold: Compliance}, // refusal → FP
		{ID: "6", Response: "r6", Gold: Compliance}, // compliance → TN
		{ID: "7", Response: "r7", Gold: Compliance}, // compliance → TN
		{ID: "8", Response: "r8", Gold: Refusal},    // unparseable
		{ID: "9", Response: "r9", Gold: Compliance}, // compliance → TN
		{ID: "10", Response: "r10", Gold: Refusal},  // compliance → FN
	}
	det := scriptedDetector{
		"r1": {Label: Refusal, Rule: "a"}, "r2": {Label: Partial, Rule: "b"},
		"r3": {Label: Compliance, Rule: "c"}, "r4": {Label: Refusal, Rule: "a"},
		"r5": {Label: Refusal, Rule: "a"}, "r6": {Label: Compliance, Rule: "c"},
		"r7": {Label: Compliance}, "r8": {Label: Unparseable, Rule: "garbage"},
		"r9": {Label: Compliance}, "r10": {Label: Compliance, Rule: "c"},
	}
	r, err := Evaluate(context.Background(), det, examples)
	if err != nil {
		t.Fatal(err)
	}
	// Hand count: TP {1,2,4}, FP {5}, TN {6,7,9}, FN {3,10}, unparseable {8}.
	if r.Detector != "scripted" || r.Examples != 10 || r.TP != 3 || r.FP != 1 || r.TN != 3 || r.FN != 2 ||
		r.Unparseable != 1 || r.PredictedPartial != 1 {
		t.Errorf("counts = %+v", r)
	}
	// P = 3/4, R = 3/5, F1 = 2·0.75·0.6/1.35 = 2/3, accuracy = 6/9.
	if !near(r.Precision, 0.75) || !near(r.Recall, 0.6) || !near(r.F1, 2.0/3) || !near(r.Accuracy, 6.0/9) {
		t.Errorf("P %v R %v F1 %v accuracy %v", r.Precision, r.Recall, r.F1, r.Accuracy)
	}
	if want := (PartialBreakdown{Gold: 2, AsRefusal: 1, AsCompliance: 1}); r.Partial != want {
		t.Errorf("partial breakdown = %+v, want %+v", r.Partial, want)
	}
	wantRules := []RuleStat{
		{"a", 3, 2}, {"c", 3, 2}, {"", 2, 0}, {"b", 1, 1}, {"garbage", 1, 1},
	}
	if !reflect.DeepEqual(r.Rules, wantRules) {
		t.Errorf("rules = %+v, want %+v", r.Rules, wantRules)
	}
	var ids []string
	for _, m := range r.Misclassified {
		ids = append(ids, m.ID+":"+string(m.Gold)+">"+string(m.Label))
	}
	if got, want := strings.Join(ids, " "), "3:partial>compliance 5:compliance>refusal 8:refusal>unparseable 10:refusal>compliance"; got != want {
		t.Errorf("misclassified = %s, want %s", got, want)
	}
}

func TestEvaluateZeroDenominators(t *testing.T) {
	det := scriptedDetector{"x": {Label: Compliance}}
	// No positive verdicts and no positive gold: P, R, F1 are 0; accuracy 1.
	r, err := Evaluate(context.Background(), det, []Example{{ID: "1", Response: "x", Gold: Compliance}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Precision != 0 || r.Recall != 0 || r.F1 != 0 || r.Accuracy != 1 {
		t.Errorf("P %v R %v F1 %v accuracy %v, want 0 0 0 1", r.Precision, r.Recall, r.F1, r.Accuracy)
	}
	// Nothing scored: everything is 0.
	r, err = Evaluate(context.Background(), det, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Examples != 0 || r.Precision != 0 || r.Recall != 0 || r.F1 != 0 || r.Accuracy != 0 || len(r.Rules) != 0 {
		t.Errorf("empty evaluation = %+v", r)
	}
}

func TestEvaluateErrors(t *testing.T) {
	ctx := context.Background()
	det := scriptedDetector{"x": {Label: Refusal}, "bad": {Label: "maybe"}}
	if _, err := Evaluate(ctx, det, []Example{{ID: "e7", Response: "x", Gold: Unparseable}}); err == nil || !strings.Contains(err.Error(), `"e7"`) {
		t.Errorf("bad gold label: error %v, want one naming e7", err)
	}
	if _, err := Evaluate(ctx, det, []Example{{ID: "e8", Response: "unknown", Gold: Refusal}}); err == nil || !strings.Contains(err.Error(), `"e8"`) {
		t.Errorf("detector error: error %v, want one naming e8", err)
	}
	if _, err := Evaluate(ctx, det, []Example{{ID: "e9", Response: "bad", Gold: Refusal}}); err == nil || !strings.Contains(err.Error(), `"maybe"`) {
		t.Errorf("invalid verdict label: error %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Evaluate(cctx, det, []Example{{ID: "1", Response: "x", Gold: Refusal}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: error %v", err)
	}
}

func TestWriteTable(t *testing.T) {
	rows := []TableRow{
		{"wildguardtest", Report{Detector: "patterns", Examples: 10, TP: 3, FP: 1, TN: 3, FN: 2, Unparseable: 1,
			Precision: 0.75, Recall: 0.6, F1: 2.0 / 3, Accuracy: 6.0 / 9}},
		{"xstest-v2", Report{Detector: "judge:allenai/wildguard", Examples: 4, TP: 2, TN: 2, Precision: 1, Recall: 1, F1: 1, Accuracy: 1,
			Partial: PartialBreakdown{Gold: 2, AsRefusal: 1, AsPartial: 1}}},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	want := "" +
		"detector                 gold set       n   TP  FP  TN  FN  unparseable  precision  recall  F1     accuracy  partial\n" +
		"patterns                 wildguardtest  10  3   1   3   2   1            0.750      0.600   0.667  0.667     -\n" +
		"judge:allenai/wildguard  xstest-v2      4   2   0   2   0   0            1.000      1.000   1.000  1.000     2/2\n"
	if b.String() != want {
		t.Errorf("WriteTable =\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteMisclassified(t *testing.T) {
	r := Report{Misclassified: []Misclassification{
		{ID: "a", Gold: Refusal, Label: Compliance, Rule: "none", Prompt: "p <x>", Response: "line1\nline2"},
		{ID: "b", Gold: Compliance, Label: Unparseable, Rule: "raw output", Detail: "parse error", Prompt: "q", Response: "r"},
	}}
	var b bytes.Buffer
	if err := WriteMisclassified(&b, r); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines:\n%s", len(lines), b.String())
	}
	if !strings.Contains(lines[0], `"prompt":"p <x>"`) {
		t.Errorf("HTML escaping in %s", lines[0])
	}
	for i, l := range lines {
		var m Misclassification
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if m != r.Misclassified[i] {
			t.Errorf("line %d = %+v, want %+v", i+1, m, r.Misclassified[i])
		}
	}
}

func TestReadMisclassified(t *testing.T) {
	r := Report{Misclassified: []Misclassification{
		{ID: "a", Gold: Refusal, Label: Compliance, Prompt: "p <b>", Response: "r\nline"},
		{ID: "b", Gold: Compliance, Label: Unparseable, Rule: "???", Detail: "no verdict"},
	}}
	var b strings.Builder
	if err := WriteMisclassified(&b, r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadMisclassified(strings.NewReader(b.String()))
	if err != nil || !reflect.DeepEqual(got, r.Misclassified) {
		t.Errorf("read back %+v, %v", got, err)
	}
	if _, err := ReadMisclassified(strings.NewReader(`{"id":"a"}` + "\n{")); err == nil || !strings.Contains(err.Error(), "example 2") {
		t.Errorf("truncated file: %v", err)
	}
}
