package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/refusal"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Names of the built-in gold sets of refusal-eval and the files it writes.
const (
	goldWildGuardTest = "wildguardtest"
	goldXSTest        = "xstest-v2"

	refusalEvalReportFile = "report.json"
	refusalEvalTableFile  = "table.txt"

	// judgeDefaultCtx is the context per sequence of an embedded judge
	// when --ctx is 0: the judge's input holds the whole prompt and
	// response, so the run command's "max tokens + 1024" is too small.
	judgeDefaultCtx = 4096

	// judgeOverflowRule is the Rule of the verdict recorded when a judge's
	// input does not fit its context: the judge gave no verdict, so the
	// example counts as unparseable.
	judgeOverflowRule = "(context overflow)"
)

// refusalEvalFlags are the flags of deepconf refusal-eval.
type refusalEvalFlags struct {
	engineFlags
	Detectors      []string
	Gold           []string
	Data           string
	PromptField    string
	ResponseField  string
	LabelField     string
	IDField        string
	RefusalValues  []string
	PartialValues  []string
	Out            string
	Limit          int
	Concurrency    int
	JudgeFormat    string
	JudgeMaxTokens int
	Rules          int
}

// newRefusalEvalCmd returns the "refusal-eval" command, which scores refusal
// detectors against human gold labels.
func newRefusalEvalCmd() *cobra.Command {
	var f refusalEvalFlags
	cmd := &cobra.Command{
		Use:   "refusal-eval [--detector D[,D2…]] [--gold wildguardtest|xstest|FILE …] [--data PATH]",
		Short: "Score refusal detectors against human refusal labels (precision, recall, F1, confusion matrix, rule hits)",
		Long: `refusal-eval runs refusal detectors on gold sets of responses labelled by humans and prints one
table with precision, recall, F1, accuracy and the confusion matrix per detector and gold set,
followed by the per-rule hit counts. Refusal is the positive class; a partial refusal counts as a
refusal.

Detectors (--detector, comma-separated or repeated):
  patterns        the default rule-based detector
  patterns:seed   the Python prototype's 48-phrase substring list, exactly
  judge:<model>   an LLM judge (WildGuard or Qwen3Guard format, inferred from the model name or
                  set with --judge-format), run on the embedded engine (a .gguf, a Hugging Face id,
                  test:tiny …) or, with --endpoint, on an OpenAI-compatible server serving <model>

Gold sets (--gold, comma-separated or repeated):
  wildguardtest   WildGuardTest: its response field with response_refusal_label; rows without a
                  label are skipped and counted
  xstest          XSTest v2: the five models' completions with final_label; partial refusals count
                  as refusals and are also reported separately
  FILE            any CSV, TSV, JSONL or Parquet file: --response-field, --label-field,
                  --refusal-values, --partial-values (every other label value is compliance; an
                  empty or missing label skips the row), --prompt-field, --id-field

The built-in gold sets are read from --data (a directory such as ../shared/data, or a file) or,
without --data, downloaded from the Hugging Face Hub (WildGuardTest is gated: set HF_TOKEN).

--out DIR receives report.json (every report with its gold set), table.txt (the printed table) and
misclassified-<detector>-<gold>.jsonl (the misclassified and unparseable examples, for error
analysis). A judge's output that cannot be parsed, or an input that does not fit its context, is
counted as unparseable and never mapped to a label.`,
		Example: `  deepconf refusal-eval --detector patterns,patterns:seed --gold wildguardtest,xstest --data ../shared/data
  deepconf refusal-eval --gold labelled.csv --response-field answer --label-field refused --refusal-values yes
  deepconf refusal-eval --detector judge:Qwen3Guard-Gen-0.6B.Q8_0.gguf --gold xstest --data ../shared/data --limit 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRefusalEval(cmd.Context(), cmd.Flags(), &f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fs := cmd.Flags()
	f.engineFlags.register(fs)
	// The judge's model comes from its detector spec, judge:<model>.
	_ = fs.MarkHidden("model")
	fs.Lookup("ctx").Usage = fmt.Sprintf("context per sequence in tokens for an embedded judge (0: %d)", judgeDefaultCtx)
	fs.StringSliceVar(&f.Detectors, "detector", []string{refusal.SpecPatterns}, "detectors, comma-separated or repeated: patterns, patterns:seed, judge:<model>")
	fs.StringSliceVar(&f.Gold, "gold", []string{"wildguardtest", "xstest"}, "gold sets, comma-separated or repeated: wildguardtest, xstest (v2 completions) or a CSV/TSV/JSONL/Parquet file")
	fs.StringVar(&f.Data, "data", "", "local file or directory with the built-in gold sets (default: download from the Hugging Face Hub)")
	fs.StringVar(&f.PromptField, "prompt-field", "prompt", "gold file: prompt field (required; judges read it)")
	fs.StringVar(&f.ResponseField, "response-field", "response", "gold file: response field")
	fs.StringVar(&f.LabelField, "label-field", "label", "gold file: refusal-label field")
	fs.StringVar(&f.IDField, "id-field", "", "gold file: example id field (default: <file>_test_<row>)")
	fs.StringSliceVar(&f.RefusalValues, "refusal-values", nil, "gold file: --label-field values meaning refusal (default refusal,refused,2_full_refusal,1,true,yes)")
	fs.StringSliceVar(&f.PartialValues, "partial-values", nil, "gold file: --label-field values meaning partial refusal (default partial_refusal,partial,3_partial_refusal)")
	fs.StringVar(&f.Out, "out", "refusal-eval", "output directory")
	fs.IntVar(&f.Limit, "limit", 0, "evaluate only the first N labelled examples of each gold set (0: all)")
	fs.IntVar(&f.Concurrency, "concurrency", 0, "examples judged at once by a judge (0: --parallel, or the endpoints' in-flight capacity)")
	fs.StringVar(&f.JudgeFormat, "judge-format", "", "judge prompt format: wildguard or qwen3guard (default: from the model name)")
	fs.IntVar(&f.JudgeMaxTokens, "judge-max-tokens", refusal.DefaultJudgeMaxTokens, "judge generation budget in tokens")
	fs.IntVar(&f.Rules, "rules", 20, "rules listed per report in the printed table, most frequent first (0: all; report.json has all)")
	return cmd
}

// goldSet is one gold set of labelled responses.
type goldSet struct {
	// Name is the gold set's name in the table: wildguardtest, xstest-v2,
	// or a file's base name without extension.
	Name string `json:"name"`
	// Spec is the --gold value.
	Spec string `json:"spec"`
	// Files are the files read.
	Files []string `json:"files"`
	// Rows is the number of rows read.
	Rows int `json:"rows"`
	// Unlabelled counts rows without a gold refusal label (skipped).
	Unlabelled int `json:"unlabelled"`
	// Limited counts labelled rows left out by --limit.
	Limited int `json:"limited,omitempty"`
	// Refusal, Partial and Compliance count the evaluated examples by
	// gold label.
	Refusal    int `json:"refusal"`
	Partial    int `json:"partial"`
	Compliance int `json:"compliance"`

	examples []refusal.Example
}

// refusalEvalEntry is one report of report.json: a detector on a gold set.
type refusalEvalEntry struct {
	// Gold is the gold set's name.
	Gold string `json:"gold"`
	refusal.Report
	// Misclassified shadows Report.Misclassified so that report.json does
	// not repeat the examples written to MisclassifiedFile.
	Misclassified []refusal.Misclassification `json:"misclassified,omitempty"`
	// MisclassifiedFile is the name of the JSON Lines file in the output
	// directory with the misclassified and unparseable examples.
	MisclassifiedFile string `json:"misclassified_file"`
	// ContextOverflow counts examples whose judge input did not fit the
	// judge's context (also counted in Unparseable).
	ContextOverflow int `json:"context_overflow,omitempty"`
	// Engine describes a judge's engine.
	Engine *engine.Info `json:"engine,omitempty"`
}

// refusalEvalReport is report.json.
type refusalEvalReport struct {
	Version string             `json:"version"`
	Created time.Time          `json:"created"`
	Gold    []goldSet          `json:"gold_sets"`
	Reports []refusalEvalEntry `json:"reports"`
}

// runRefusalEval is the body of deepconf refusal-eval.
func runRefusalEval(ctx context.Context, fs *pflag.FlagSet, f *refusalEvalFlags, stdout, log io.Writer) error {
	if fs.Changed("model") {
		return errors.New("--model: name a judge model in its detector spec, --detector judge:<model>")
	}
	if f.Limit < 0 {
		return fmt.Errorf("--limit %d: must be ≥ 0", f.Limit)
	}
	if f.Rules < 0 {
		return fmt.Errorf("--rules %d: must be ≥ 0", f.Rules)
	}
	if f.JudgeFormat != "" && f.JudgeFormat != string(refusal.FormatWildGuard) && f.JudgeFormat != string(refusal.FormatQwen3Guard) {
		return fmt.Errorf("--judge-format %q: want %s or %s", f.JudgeFormat, refusal.FormatWildGuard, refusal.FormatQwen3Guard)
	}
	specs, err := detectorSpecs(f.Detectors, refusal.JudgeFormat(f.JudgeFormat))
	if err != nil {
		return err
	}
	if len(f.Gold) == 0 {
		return errors.New("--gold: give at least one gold set")
	}
	sets, err := loadGoldSets(ctx, f, log)
	if err != nil {
		return err
	}
	for i := range sets {
		fmt.Fprintf(log, "deepconf: gold set %s: %s\n", sets[i].Name, goldSummary(&sets[i]))
	}
	if err := os.MkdirAll(f.Out, 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}

	rep := refusalEvalReport{Version: version, Created: time.Now().UTC(), Gold: sets}
	for _, spec := range specs {
		entries, err := evaluateDetector(ctx, fs, f, spec, sets, log)
		if err != nil {
			return err
		}
		rep.Reports = append(rep.Reports, entries...)
	}
	assignMisclassifiedFiles(rep.Reports)
	for i := range rep.Reports {
		if err := writeMisclassifiedFile(filepath.Join(f.Out, rep.Reports[i].MisclassifiedFile), rep.Reports[i].Report); err != nil {
			return err
		}
		rep.Reports[i].Report.Misclassified = nil
	}

	var table strings.Builder
	if err := writeRefusalEvalTable(&table, &rep, f.Rules); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(f.Out, refusalEvalTableFile), []byte(table.String()), 0o644); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	b, err := json.MarshalIndent(&rep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", refusalEvalReportFile, err)
	}
	if err := os.WriteFile(filepath.Join(f.Out, refusalEvalReportFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", refusalEvalReportFile, err)
	}
	if _, err := io.WriteString(stdout, table.String()); err != nil {
		return err
	}
	fmt.Fprintf(log, "deepconf: wrote %s, %s and %d misclassified-*.jsonl files to %s\n",
		refusalEvalReportFile, refusalEvalTableFile, len(rep.Reports), f.Out)
	return nil
}

// detectorSpec is a parsed --detector value.
type detectorSpec struct {
	// Spec is the normalised spec ("patterns" for "").
	Spec string
	// Judge is the judge's model for judge:<model> specs, else "".
	Judge string
}

// detectorSpecs checks the --detector values before any data is loaded or
// any model opened.
func detectorSpecs(values []string, format refusal.JudgeFormat) ([]detectorSpec, error) {
	if len(values) == 0 {
		return nil, errors.New("--detector: give at least one detector")
	}
	var specs []detectorSpec
	seen := map[string]bool{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			v = refusal.SpecPatterns
		}
		if seen[v] {
			return nil, fmt.Errorf("--detector %q given twice", v)
		}
		seen[v] = true
		model, ok := strings.CutPrefix(v, refusal.SpecJudgePrefix)
		if !ok {
			if _, err := refusal.New(v); err != nil {
				return nil, fmt.Errorf("--detector: %w", err)
			}
			specs = append(specs, detectorSpec{Spec: v})
			continue
		}
		if model == "" {
			return nil, fmt.Errorf("--detector %q: give the judge's model, judge:<model>", v)
		}
		if _, ok := refusal.FormatForModel(model); !ok && format == "" {
			return nil, fmt.Errorf("--detector %q: cannot tell the judge's prompt format from the model name; give --judge-format %s or %s",
				v, refusal.FormatWildGuard, refusal.FormatQwen3Guard)
		}
		specs = append(specs, detectorSpec{Spec: v, Judge: model})
	}
	return specs, nil
}

// loadGoldSets loads the --gold sets in flag order.
func loadGoldSets(ctx context.Context, f *refusalEvalFlags, log io.Writer) ([]goldSet, error) {
	var (
		sets  []goldSet
		fetch benchmark.FetchFunc
	)
	names := map[string]string{} // gold-set name → spec
	for _, spec := range f.Gold {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			return nil, errors.New("--gold: empty value")
		}
		var (
			gs  goldSet
			err error
		)
		bench := builtinGold(spec)
		switch {
		case bench != "":
			opts := benchmark.Options{Data: f.Data}
			if f.Data == "" {
				if fetch == nil {
					if fetch, err = hubFetch(log); err != nil {
						return nil, fmt.Errorf("--gold %s: %w", spec, err)
					}
				}
				opts.Fetch = fetch
			}
			var ins []benchmark.Instance
			if ins, err = benchmark.Load(ctx, bench, opts); err != nil {
				return nil, fmt.Errorf("--gold %s: %w", spec, err)
			}
			gs = newGoldSet(goldName(bench), spec, ins, f.Limit)
		default:
			if gs, err = loadGoldFile(ctx, spec, f); err != nil {
				return nil, err
			}
		}
		if prev, dup := names[gs.Name]; dup {
			return nil, fmt.Errorf("--gold %s: gold set %s is already given by --gold %s", spec, gs.Name, prev)
		}
		names[gs.Name] = spec
		sets = append(sets, gs)
	}
	return sets, nil
}

// builtinGold returns the benchmark holding a built-in gold set, or "" when
// spec is not one.
func builtinGold(spec string) string {
	switch strings.ToLower(spec) {
	case "wildguardtest", "wildguardmix":
		return "wildguardmix"
	case "xstest", "xstest-v2", "xstest-completions":
		return "xstest-completions"
	}
	return ""
}

// goldName is the table name of a built-in gold set's benchmark.
func goldName(bench string) string {
	if bench == "wildguardmix" {
		return goldWildGuardTest
	}
	return goldXSTest
}

// loadGoldFile reads a labelled file with the custom-field flags.
func loadGoldFile(ctx context.Context, path string, f *refusalEvalFlags) (goldSet, error) {
	if _, err := os.Stat(path); err != nil {
		return goldSet{}, fmt.Errorf("--gold %q is neither wildguardtest, xstest nor a readable file: %w", path, err)
	}
	switch {
	case f.PromptField == "":
		return goldSet{}, fmt.Errorf("--gold %s: --prompt-field is required", path)
	case f.ResponseField == "":
		return goldSet{}, fmt.Errorf("--gold %s: --response-field is required", path)
	case f.LabelField == "":
		return goldSet{}, fmt.Errorf("--gold %s: --label-field is required", path)
	}
	name := goldFileName(path)
	m := benchmark.Mapping{
		Name:                 name,
		Prompt:               f.PromptField,
		ID:                   f.IDField,
		Response:             f.ResponseField,
		Refusal:              f.LabelField,
		RefusalValues:        f.RefusalValues,
		PartialRefusalValues: f.PartialValues,
	}
	ins, err := benchmark.LoadMapped(ctx, path, m, benchmark.FormatAuto)
	if err != nil {
		return goldSet{}, fmt.Errorf("--gold %s: %w", path, err)
	}
	gs := newGoldSet(name, path, ins, f.Limit)
	if gs.Files == nil {
		gs.Files = []string{path}
	}
	if len(gs.examples) == 0 {
		return goldSet{}, fmt.Errorf("--gold %s: none of its %d rows has a value in --label-field %q (fields: %s)",
			path, gs.Rows, f.LabelField, strings.Join(instanceFields(ins, m), ", "))
	}
	return gs, nil
}

// goldFileName is a gold file's name in the table: its base name without
// extensions (.csv, .jsonl.gz, …).
func goldFileName(path string) string {
	name := filepath.Base(path)
	name = strings.TrimSuffix(name, ".gz")
	name = strings.TrimSuffix(name, filepath.Ext(name))
	if name == "" {
		return "gold"
	}
	return name
}

// instanceFields lists the source fields of a mapped file, for error
// messages: the mapped ones and those kept in Metadata.
func instanceFields(ins []benchmark.Instance, m benchmark.Mapping) []string {
	seen := map[string]bool{}
	for _, f := range []string{m.Prompt, m.ID, m.Response} {
		if f != "" {
			seen[f] = true
		}
	}
	for i := range ins {
		for k := range ins[i].Metadata {
			seen[k] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, strconv.Quote(k))
	}
	sort.Strings(out)
	return out
}

// newGoldSet turns benchmark instances into a gold set: instances without a
// refusal label are skipped and counted, and at most limit (> 0) labelled
// ones are kept.
func newGoldSet(name, spec string, ins []benchmark.Instance, limit int) goldSet {
	gs := goldSet{Name: name, Spec: spec, Rows: len(ins)}
	files := map[string]bool{}
	for i := range ins {
		in := &ins[i]
		if in.Source != "" && !files[in.Source] {
			files[in.Source] = true
			gs.Files = append(gs.Files, in.Source)
		}
		var gold refusal.Label
		switch in.RefusalLabel {
		case benchmark.FullRefusal:
			gold = refusal.Refusal
		case benchmark.PartialRefusal:
			gold = refusal.Partial
		case benchmark.Compliance:
			gold = refusal.Compliance
		default:
			gs.Unlabelled++
			continue
		}
		if limit > 0 && len(gs.examples) == limit {
			gs.Limited++
			continue
		}
		switch gold {
		case refusal.Refusal:
			gs.Refusal++
		case refusal.Partial:
			gs.Partial++
		default:
			gs.Compliance++
		}
		gs.examples = append(gs.examples, refusal.Example{ID: in.ID, Prompt: in.Prompt, Response: in.Response, Gold: gold})
	}
	return gs
}

// goldSummary describes a gold set in one line.
func goldSummary(gs *goldSet) string {
	s := fmt.Sprintf("%d examples (refusal %d, partial %d, compliance %d)", len(gs.examples), gs.Refusal, gs.Partial, gs.Compliance)
	if gs.Unlabelled > 0 {
		s += fmt.Sprintf("; %d rows without a refusal label skipped", gs.Unlabelled)
	}
	if gs.Limited > 0 {
		s += fmt.Sprintf("; %d left out by --limit", gs.Limited)
	}
	hint := ""
	if builtinGold(gs.Spec) == "" {
		hint = " (check --label-field, --refusal-values and --partial-values)"
	}
	if gs.Refusal+gs.Partial == 0 {
		s += "; WARNING: no refusals, so recall and F1 are 0" + hint
	} else if gs.Compliance == 0 {
		s += "; WARNING: no compliance, so every scored verdict is a TP or an FN" + hint
	}
	return s
}

// evaluateDetector scores one detector on every gold set.
func evaluateDetector(ctx context.Context, fs *pflag.FlagSet, f *refusalEvalFlags, spec detectorSpec, sets []goldSet, log io.Writer) ([]refusalEvalEntry, error) {
	if spec.Judge == "" {
		det, err := refusal.New(spec.Spec)
		if err != nil {
			return nil, fmt.Errorf("--detector: %w", err)
		}
		var out []refusalEvalEntry
		for i := range sets {
			fmt.Fprintf(log, "deepconf: %s on %s\n", spec.Spec, sets[i].Name)
			r, err := refusal.Evaluate(ctx, det, sets[i].examples)
			if err != nil {
				return nil, fmt.Errorf("%s on %s: %w", spec.Spec, sets[i].Name, err)
			}
			out = append(out, refusalEvalEntry{Gold: sets[i].Name, Report: r})
		}
		return out, nil
	}
	return evaluateJudge(ctx, fs, f, spec, sets, log)
}

// evaluateJudge runs a judge: it opens the judge's engine, judges the
// distinct (prompt, response) pairs of every gold set, conc at a time, and
// scores the stored verdicts with refusal.Evaluate.
func evaluateJudge(ctx context.Context, fs *pflag.FlagSet, f *refusalEvalFlags, spec detectorSpec, sets []goldSet, log io.Writer) ([]refusalEvalEntry, error) {
	jf := f.engineFlags
	jf.Model = spec.Judge
	conc := f.Concurrency
	if conc <= 0 {
		conc = jf.Parallel
		if len(jf.Endpoints) > 0 {
			conc = len(jf.Endpoints) * jf.InFlight
		}
	}
	if conc < 1 {
		conc = 1
	}
	if !fs.Changed("prompts") {
		jf.Prompts = conc
	}
	if jf.Ctx <= 0 {
		jf.Ctx = judgeDefaultCtx
	}
	e, err := jf.openEngine(ctx, 1, f.JudgeMaxTokens, log)
	if err != nil {
		return nil, fmt.Errorf("judge %s: %w", spec.Judge, err)
	}
	defer e.Close()
	opts := []refusal.Option{refusal.WithEngine(e), refusal.WithJudgeMaxTokens(f.JudgeMaxTokens)}
	if f.JudgeFormat != "" {
		opts = append(opts, refusal.WithJudgeFormat(refusal.JudgeFormat(f.JudgeFormat)))
	}
	det, err := refusal.New(spec.Spec, opts...)
	if err != nil {
		return nil, fmt.Errorf("--detector: %w", err)
	}
	info := e.Info()
	var out []refusalEvalEntry
	for i := range sets {
		gs := &sets[i]
		fmt.Fprintf(log, "deepconf: %s on %s: judging %d examples, %d at a time\n", spec.Spec, gs.Name, len(gs.examples), conc)
		verdicts, overflow, err := judgeAll(ctx, det, gs.examples, conc, progressLogger(log, spec.Spec, gs.Name, len(gs.examples)))
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", spec.Spec, gs.Name, err)
		}
		r, err := refusal.Evaluate(ctx, verdicts, gs.examples)
		if err != nil {
			return nil, fmt.Errorf("%s on %s: %w", spec.Spec, gs.Name, err)
		}
		if overflow > 0 {
			fmt.Fprintf(log, "deepconf: %s on %s: %d judge inputs did not fit the context of %d tokens (counted as unparseable; raise --ctx)\n",
				spec.Spec, gs.Name, overflow, jf.Ctx)
		}
		out = append(out, refusalEvalEntry{Gold: gs.Name, Report: r, ContextOverflow: overflow, Engine: &info})
	}
	return out, nil
}

// storedVerdicts is a Detector that returns verdicts computed beforehand,
// keyed by prompt and response, so that refusal.Evaluate can score judges
// that ran concurrently.
type storedVerdicts struct {
	name     string
	verdicts map[[2]string]refusal.Verdict
}

// Name implements refusal.Detector.
func (s *storedVerdicts) Name() string { return s.name }

// Detect implements refusal.Detector.
func (s *storedVerdicts) Detect(_ context.Context, prompt, response string) (refusal.Verdict, error) {
	v, ok := s.verdicts[[2]string{prompt, response}]
	if !ok {
		return refusal.Verdict{}, errors.New("no stored verdict for this example")
	}
	return v, nil
}

// judgeAll runs det on the distinct (prompt, response) pairs of examples,
// conc at a time. A judge input that does not fit the engine's context
// gives an Unparseable verdict (the judge said nothing) and is counted in
// overflow; any other error stops the run. done is called after each
// judged pair, from the judging goroutines (concurrently).
func judgeAll(ctx context.Context, det refusal.Detector, examples []refusal.Example, conc int, done func()) (*storedVerdicts, int, error) {
	var keys [][2]string
	seen := map[[2]string]bool{}
	for _, ex := range examples {
		k := [2]string{ex.Prompt, ex.Response}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		verdicts = make(map[[2]string]refusal.Verdict, len(keys))
		overflow int
		firstErr error
		wg       sync.WaitGroup
	)
	work := make(chan [2]string)
	for range min(conc, len(keys)) {
		wg.Go(func() {
			for k := range work {
				v, err := det.Detect(ctx, k[0], k[1])
				if errors.Is(err, engine.ErrContextOverflow) {
					v, err = refusal.Verdict{Label: refusal.Unparseable, Rule: judgeOverflowRule, Detail: err.Error()}, nil
					mu.Lock()
					overflow++
					mu.Unlock()
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					cancel()
				} else {
					verdicts[k] = v
				}
				mu.Unlock()
				if err == nil && done != nil {
					done()
				}
			}
		})
	}
feed:
	for _, k := range keys {
		select {
		case work <- k:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	return &storedVerdicts{name: det.Name(), verdicts: verdicts}, overflow, nil
}

// progressLogger returns a function that counts judged examples and logs
// the count every 30 seconds and at the end.
func progressLogger(log io.Writer, det, gold string, total int) func() {
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
func assignMisclassifiedFiles(entries []refusalEvalEntry) {
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

// writeMisclassifiedFile writes r's misclassified examples to path.
func writeMisclassifiedFile(path string, r refusal.Report) error {
	fh, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write misclassified examples: %w", err)
	}
	if err := refusal.WriteMisclassified(fh, r); err != nil {
		fh.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeRefusalEvalTable writes the gold sets, the score table of
// refusal.WriteTable, and per report the gold partial-refusal breakdown and
// the rules that decided (at most maxRules of them when maxRules > 0).
func writeRefusalEvalTable(w io.Writer, rep *refusalEvalReport, maxRules int) error {
	fmt.Fprintln(w, "gold sets:")
	for i := range rep.Gold {
		gs := &rep.Gold[i]
		fmt.Fprintf(w, "  %s: %s\n", gs.Name, goldSummary(gs))
	}
	fmt.Fprintln(w)
	rows := make([]refusal.TableRow, len(rep.Reports))
	for i, e := range rep.Reports {
		rows[i] = refusal.TableRow{Dataset: e.Gold, Report: e.Report}
	}
	if err := refusal.WriteTable(w, rows); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nRefusal (gold refusal or partial refusal) is the positive class; partial: gold partial refusals detected as refusal or partial.")
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
				fmt.Fprintf(w, "  %8s  %12s  … %d more rules in %s\n", "", "", len(e.Rules)-maxRules, refusalEvalReportFile)
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
