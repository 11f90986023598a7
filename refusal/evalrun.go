package refusal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/atomicfile"
)

// Files of an evaluation's output directory (WriteEvalDir).
const (
	EvalReportFile = "report.json"
	EvalTableFile  = "table.txt"
)

// EvalDetector is a detector for Eval: a spec for New, and for a judge
// (judge:<model>) its model.
type EvalDetector struct {
	Spec  string
	Judge string
}

// EvalOptions configure Eval.
type EvalOptions struct {
	// Detectors are evaluated in order, each on every gold set.
	Detectors []EvalDetector
	// OpenJudge opens the engine a judge's model runs on and says how
	// many examples to judge at once; Eval closes the engine.
	OpenJudge func(ctx context.Context, model string) (e engine.Engine, conc int, err error)
	// JudgeFormat ("" infers it from the model name) and JudgeMaxTokens
	// configure judges (WithJudgeFormat, WithJudgeMaxTokens).
	JudgeFormat    JudgeFormat
	JudgeMaxTokens int
	// HarmDetectors are harm judges ("judge:<model>") scored on the gold
	// sets' response-harm labels (GoldSet.Harm) in HarmFormat ("" infers
	// it from the model name; HarmFormat), their engines opened with
	// OpenJudge.
	HarmDetectors []string
	HarmFormat    JudgeFormat
	// Version is recorded in the report.
	Version string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// EvalEntry is one report of report.json: a detector on a gold set.
type EvalEntry struct {
	// Gold is the gold set's name.
	Gold string `json:"gold"`
	Report
	// Misclassified shadows Report.Misclassified so that report.json does
	// not repeat the examples written to MisclassifiedFile.
	Misclassified []Misclassification `json:"misclassified,omitempty"`
	// MisclassifiedFile is the name of the JSON Lines file in the output
	// directory with the misclassified and unparseable examples.
	MisclassifiedFile string `json:"misclassified_file"`
	// ContextOverflow counts examples whose judge input did not fit the
	// judge's context (also counted in Unparseable).
	ContextOverflow int `json:"context_overflow,omitempty"`
	// Engine describes a judge's engine.
	Engine *engine.Info `json:"engine,omitempty"`
}

// EvalReport is an evaluation of detectors on gold sets (report.json).
type EvalReport struct {
	Version string      `json:"version"`
	Created time.Time   `json:"created"`
	Gold    []GoldSet   `json:"gold_sets"`
	Reports []EvalEntry `json:"reports"`
	// Harm are the harm detectors' reports on the response-harm labels.
	Harm []HarmEntry `json:"harm,omitempty"`
}

// Eval scores every detector of o on every gold set (Evaluate): rule-based
// detectors directly, judges through the engine o.OpenJudge opens, with the
// distinct examples judged concurrently (JudgeAll).
func Eval(ctx context.Context, sets []GoldSet, o EvalOptions) (*EvalReport, error) {
	rep := &EvalReport{Version: o.Version, Created: time.Now().UTC(), Gold: sets}
	for _, d := range o.Detectors {
		var (
			entries []EvalEntry
			err     error
		)
		if d.Judge == "" {
			entries, err = evalRules(ctx, d.Spec, sets, o.Log)
		} else {
			entries, err = evalJudge(ctx, d, sets, o)
		}
		if err != nil {
			return nil, err
		}
		rep.Reports = append(rep.Reports, entries...)
	}
	assignMisclassifiedFiles(rep.Reports)
	harm, err := evalHarm(ctx, sets, o)
	if err != nil {
		return nil, err
	}
	rep.Harm = harm
	return rep, nil
}

// evalRules scores a rule-based detector on every gold set.
func evalRules(ctx context.Context, spec string, sets []GoldSet, log io.Writer) ([]EvalEntry, error) {
	det, err := New(spec)
	if err != nil {
		return nil, err
	}
	var out []EvalEntry
	for i := range sets {
		logf(log, "deepconf: %s on %s\n", spec, sets[i].Name)
		r, err := Evaluate(ctx, det, sets[i].Examples)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", spec, sets[i].Name, err)
		}
		out = append(out, EvalEntry{Gold: sets[i].Name, Report: r})
	}
	return out, nil
}

// evalJudge opens a judge's engine, judges the distinct examples of every
// gold set and scores the stored verdicts.
func evalJudge(ctx context.Context, d EvalDetector, sets []GoldSet, o EvalOptions) ([]EvalEntry, error) {
	if o.OpenJudge == nil {
		return nil, fmt.Errorf("judge %s: no engine to run it on", d.Judge)
	}
	e, conc, err := o.OpenJudge(ctx, d.Judge)
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", d.Judge, err)
	}
	defer e.Close()
	conc = max(conc, 1)
	opts := []Option{WithEngine(e)}
	if o.JudgeMaxTokens > 0 {
		opts = append(opts, WithJudgeMaxTokens(o.JudgeMaxTokens))
	}
	if o.JudgeFormat != "" {
		opts = append(opts, WithJudgeFormat(o.JudgeFormat))
	}
	det, err := New(d.Spec, opts...)
	if err != nil {
		return nil, err
	}
	info := e.Info()
	var out []EvalEntry
	for i := range sets {
		gs := &sets[i]
		logf(o.Log, "deepconf: %s on %s: judging %d examples, %d at a time\n", d.Spec, gs.Name, len(gs.Examples), conc)
		judged, overflow, err := JudgeAll(ctx, det, gs.Examples, conc, progressLogger(o.Log, d.Spec, gs.Name, len(gs.Examples)))
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", d.Spec, gs.Name, err)
		}
		r, err := Evaluate(ctx, judged, gs.Examples)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", d.Spec, gs.Name, err)
		}
		if overflow > 0 {
			logf(o.Log, "deepconf: %s on %s: %d judge inputs did not fit the judge's context (counted as unparseable; give it a larger context)\n",
				d.Spec, gs.Name, overflow)
		}
		out = append(out, EvalEntry{Gold: gs.Name, Report: r, ContextOverflow: overflow, Engine: &info})
	}
	return out, nil
}

func logf(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format, args...)
	}
}

// progressLogger returns a function that counts judged examples and logs
// the count every 30 seconds and at the end (nil without a log).
func progressLogger(log io.Writer, det, gold string, total int) func() {
	if log == nil {
		return nil
	}
	var (
		mu   sync.Mutex
		n    int
		last = time.Now()
	)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n == total || time.Since(last) >= 30*time.Second {
			last = time.Now()
			fmt.Fprintf(log, "deepconf: %s on %s: %d/%d judged\n", det, gold, n, total)
		}
	}
}

// assignMisclassifiedFiles names each report's misclassified-examples file
// misclassified-<detector>-<gold>.jsonl, with the names made safe for file
// systems and unique.
func assignMisclassifiedFiles(entries []EvalEntry) {
	used := map[string]bool{}
	for i := range entries {
		base := "misclassified-" + fileSafe(entries[i].Detector) + "-" + fileSafe(entries[i].Gold)
		name := base + ".jsonl"
		for n := 2; used[name]; n++ {
			name = fmt.Sprintf("%s-%d.jsonl", base, n)
		}
		used[name] = true
		entries[i].MisclassifiedFile = name
	}
}

// fileSafe replaces every character other than ASCII letters, digits, '.',
// '-' and '_' with '_' (so "patterns:seed" becomes "patterns_seed").
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, s)
}

// WriteEvalDir writes the evaluation into the existing directory dir: each
// report's misclassified and unparseable examples (its MisclassifiedFile),
// table.txt (WriteEvalTable with at most maxRules rules per report, 0: all)
// and report.json (every report, its examples in the JSON Lines files). It
// returns the table.
func WriteEvalDir(dir string, rep *EvalReport, maxRules int) (string, error) {
	out := *rep
	out.Reports = make([]EvalEntry, len(rep.Reports))
	for i, e := range rep.Reports {
		if err := atomicfile.Write(filepath.Join(dir, e.MisclassifiedFile), func(w io.Writer) error { return WriteMisclassified(w, e.Report) }); err != nil {
			return "", err
		}
		e.Report.Misclassified = nil
		out.Reports[i] = e
	}
	var table strings.Builder
	if err := WriteEvalTable(&table, &out, maxRules); err != nil {
		return "", err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, EvalTableFile), []byte(table.String())); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", EvalReportFile, err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, EvalReportFile), append(b, '\n')); err != nil {
		return "", err
	}
	return table.String(), nil
}

// WriteEvalTable writes the gold sets, the score table of WriteTable, and
// per report the gold partial-refusal breakdown and the rules that decided
// (at most maxRules of them when maxRules > 0).
func WriteEvalTable(w io.Writer, rep *EvalReport, maxRules int) error {
	fmt.Fprintln(w, "gold sets:")
	for i := range rep.Gold {
		gs := &rep.Gold[i]
		fmt.Fprintf(w, "  %s: %s\n", gs.Name, gs.Summary())
	}
	fmt.Fprintln(w)
	rows := make([]TableRow, len(rep.Reports))
	for i, e := range rep.Reports {
		rows[i] = TableRow{Dataset: e.Gold, Report: e.Report}
	}
	if err := WriteTable(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nRefusal (gold refusal or partial refusal) is the positive class; partial: gold partial refusals detected as refusal or partial.")
	if len(rep.Harm) > 0 {
		fmt.Fprintln(w)
		if err := WriteHarmTable(w, rep.Harm); err != nil {
			return err
		}
		fmt.Fprintln(w, "\nHarm: harmful (gold response_harm_label) is the positive class; unparseable and controversial verdicts are counted, not scored.")
	}
	for _, e := range rep.Reports {
		fmt.Fprintf(w, "\n%s on %s", e.Detector, e.Gold)
		if e.ContextOverflow > 0 {
			fmt.Fprintf(w, " (%d judge inputs did not fit the context)", e.ContextOverflow)
		}
		fmt.Fprintln(w, ":")
		if p := e.Partial; p.Gold > 0 {
			fmt.Fprintf(w, "  gold partial refusals: %d → refusal %d, partial %d, compliance %d, unparseable %d\n",
				p.Gold, p.AsRefusal, p.AsPartial, p.AsCompliance, p.AsUnparseable)
		}
		fmt.Fprintf(w, "  predicted partial: %d; misclassified or unparseable: %s\n", e.PredictedPartial, e.MisclassifiedFile)
		fmt.Fprintf(w, "  %8s  %12s  %s\n", "hits", "gold refusal", "rule")
		for i, rs := range e.Rules {
			if maxRules > 0 && i == maxRules {
				fmt.Fprintf(w, "  %8s  %12s  … %d more rules in %s\n", "", "", len(e.Rules)-maxRules, EvalReportFile)
				break
			}
			fmt.Fprintf(w, "  %8d  %12d  %s\n", rs.Hits, rs.GoldRefusal, ruleText(rs.Rule))
		}
	}
	return nil
}

// ruleText shows a rule in the table: "(none)" for an empty rule, quoted
// when it has control characters (a judge's raw output), and cut to 80
// characters.
func ruleText(rule string) string {
	if rule == "" {
		return "(none)"
	}
	if r := []rune(rule); len(r) > 80 {
		rule = string(r[:80]) + "…"
	}
	if strings.ContainsFunc(rule, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return strconv.Quote(rule)
	}
	return rule
}
