package refusal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/benchmark"
)

// Names of the built-in gold sets.
const (
	GoldWildGuardTest = "wildguardtest"
	GoldXSTest        = "xstest-v2"
)

// GoldSet is a set of responses labelled by humans, for Evaluate.
type GoldSet struct {
	// Name is the gold set's name in tables: GoldWildGuardTest,
	// GoldXSTest, or a file's base name without extension.
	Name string `json:"name"`
	// Spec is how the gold set was asked for (a built-in name or a file).
	Spec string `json:"spec"`
	// Files are the files read.
	Files []string `json:"files"`
	// Rows is the number of rows read.
	Rows int `json:"rows"`
	// Unlabelled counts rows without a gold refusal label (skipped).
	Unlabelled int `json:"unlabelled"`
	// Limited counts labelled rows left out by GoldOptions.Limit.
	Limited int `json:"limited,omitempty"`
	// Refusal, Partial and Compliance count the examples by gold label.
	Refusal    int `json:"refusal"`
	Partial    int `json:"partial"`
	Compliance int `json:"compliance"`
	// Examples are the labelled examples evaluated.
	Examples []Example `json:"-"`
}

// GoldOptions configure LoadGoldSets.
type GoldOptions struct {
	// Data is a local file or directory holding the built-in gold sets;
	// "" downloads them through Fetch.
	Data string
	// Fetch returns the downloader of the built-in gold sets when Data is
	// "" (called once, when the first built-in set is loaded).
	Fetch func() (benchmark.FetchFunc, error)
	// Limit keeps only the first Limit labelled examples of each gold set
	// (0: all).
	Limit int
	// PromptField, ResponseField, LabelField and IDField name the fields
	// of a gold file; RefusalValues and PartialValues the values of
	// LabelField meaning refusal and partial refusal (benchmark.Mapping's
	// defaults when nil; any other non-empty value is compliance).
	PromptField, ResponseField, LabelField, IDField string
	RefusalValues, PartialValues                    []string
}

// LoadGoldSets loads the gold sets specs in order: each is a built-in set
// (wildguardtest: WildGuardTest's response refusal labels; xstest: the
// XSTest v2 completions, partial refusals included) or a CSV, TSV, JSONL or
// Parquet file read with o's fields. Two specs naming the same gold set are
// an error.
func LoadGoldSets(ctx context.Context, specs []string, o GoldOptions) ([]GoldSet, error) {
	var (
		sets  []GoldSet
		fetch benchmark.FetchFunc
	)
	names := map[string]string{} // gold-set name → spec
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			return nil, errors.New("gold set: empty name")
		}
		var (
			gs  GoldSet
			err error
		)
		if bench := BuiltinGold(spec); bench != "" {
			opts := benchmark.Options{Data: o.Data}
			if o.Data == "" {
				if fetch == nil {
					if o.Fetch == nil {
						return nil, fmt.Errorf("gold set %s: no data directory and no download", spec)
					}
					if fetch, err = o.Fetch(); err != nil {
						return nil, fmt.Errorf("gold set %s: %w", spec, err)
					}
				}
				opts.Fetch = fetch
			}
			var ins []benchmark.Instance
			if ins, err = benchmark.Load(ctx, bench, opts); err != nil {
				return nil, fmt.Errorf("gold set %s: %w", spec, err)
			}
			name := GoldXSTest
			if bench == "wildguardmix" {
				name = GoldWildGuardTest
			}
			gs = newGoldSet(name, spec, ins, o.Limit)
		} else if gs, err = loadGoldFile(ctx, spec, o); err != nil {
			return nil, err
		}
		if prev, dup := names[gs.Name]; dup {
			return nil, fmt.Errorf("gold set %s: %s is already given as %s", spec, gs.Name, prev)
		}
		names[gs.Name] = spec
		sets = append(sets, gs)
	}
	return sets, nil
}

// BuiltinGold returns the benchmark holding the built-in gold set spec, or
// "" when spec is not one.
func BuiltinGold(spec string) string {
	switch strings.ToLower(spec) {
	case "wildguardtest", "wildguardmix":
		return "wildguardmix"
	case "xstest", "xstest-v2", "xstest-completions":
		return "xstest-completions"
	}
	return ""
}

// loadGoldFile reads a labelled file with o's fields.
func loadGoldFile(ctx context.Context, path string, o GoldOptions) (GoldSet, error) {
	if _, err := os.Stat(path); err != nil {
		return GoldSet{}, fmt.Errorf("gold set %q is neither wildguardtest, xstest nor a readable file: %w", path, err)
	}
	switch {
	case o.PromptField == "":
		return GoldSet{}, fmt.Errorf("gold set %s: the prompt field is required", path)
	case o.ResponseField == "":
		return GoldSet{}, fmt.Errorf("gold set %s: the response field is required", path)
	case o.LabelField == "":
		return GoldSet{}, fmt.Errorf("gold set %s: the label field is required", path)
	}
	name := goldFileName(path)
	m := benchmark.Mapping{
		Name:                 name,
		Prompt:               o.PromptField,
		ID:                   o.IDField,
		Response:             o.ResponseField,
		Refusal:              o.LabelField,
		RefusalValues:        o.RefusalValues,
		PartialRefusalValues: o.PartialValues,
	}
	ins, err := benchmark.LoadMapped(ctx, path, m, benchmark.FormatAuto)
	if err != nil {
		return GoldSet{}, fmt.Errorf("gold set %s: %w", path, err)
	}
	gs := newGoldSet(name, path, ins, o.Limit)
	if gs.Files == nil {
		gs.Files = []string{path}
	}
	if len(gs.Examples) == 0 {
		return GoldSet{}, fmt.Errorf("gold set %s: none of its %d rows has a value in the label field %q (fields: %s)",
			path, gs.Rows, o.LabelField, strings.Join(instanceFields(ins, m), ", "))
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
func newGoldSet(name, spec string, ins []benchmark.Instance, limit int) GoldSet {
	gs := GoldSet{Name: name, Spec: spec, Rows: len(ins)}
	files := map[string]bool{}
	for i := range ins {
		in := &ins[i]
		if in.Source != "" && !files[in.Source] {
			files[in.Source] = true
			gs.Files = append(gs.Files, in.Source)
		}
		var gold Label
		switch in.RefusalLabel {
		case benchmark.FullRefusal:
			gold = Refusal
		case benchmark.PartialRefusal:
			gold = Partial
		case benchmark.Compliance:
			gold = Compliance
		default:
			gs.Unlabelled++
			continue
		}
		if limit > 0 && len(gs.Examples) == limit {
			gs.Limited++
			continue
		}
		switch gold {
		case Refusal:
			gs.Refusal++
		case Partial:
			gs.Partial++
		default:
			gs.Compliance++
		}
		gs.Examples = append(gs.Examples, Example{ID: in.ID, Prompt: in.Prompt, Response: in.Response, Gold: gold})
	}
	return gs
}

// Summary describes the gold set in one line, with a warning when it has no
// refusals or no compliance.
func (gs *GoldSet) Summary() string {
	s := fmt.Sprintf("%d examples (refusal %d, partial %d, compliance %d)", len(gs.Examples), gs.Refusal, gs.Partial, gs.Compliance)
	if gs.Unlabelled > 0 {
		s += fmt.Sprintf("; %d rows without a refusal label skipped", gs.Unlabelled)
	}
	if gs.Limited > 0 {
		s += fmt.Sprintf("; %d left out by the limit", gs.Limited)
	}
	hint := ""
	if BuiltinGold(gs.Spec) == "" {
		hint = " (check the label field and its refusal and partial values)"
	}
	if gs.Refusal+gs.Partial == 0 {
		s += "; WARNING: no refusals, so recall and F1 are 0" + hint
	} else if gs.Compliance == 0 {
		s += "; WARNING: no compliance, so every scored verdict is a TP or an FN" + hint
	}
	return s
}
