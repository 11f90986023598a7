package refusal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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

// Default label values of a labelled file.
var (
	DefaultRefusalValues    = []string{"refusal", "refused", "2_full_refusal", "1", "true", "yes"}
	DefaultPartialValues    = []string{"partial_refusal", "partial", "3_partial_refusal"}
	DefaultComplianceValues = []string{"compliance", "complied", "1_full_compliance", "0", "false", "no"}
)

// GoldSet is a set of responses labelled by humans: what Evaluate scores
// detectors on and what Train fits a classifier to.
type GoldSet struct {
	// Name is the gold set's name in tables: GoldWildGuardTest,
	// GoldXSTest, or a file's base name without extension.
	Name string `json:"name"`
	// Spec is how the gold set was asked for (a built-in name or a file).
	Spec string `json:"spec"`
	// LabelField is the field a file's labels were read from ("" for a
	// built-in set).
	LabelField string `json:"label_field,omitempty"`
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
	// Examples are the labelled examples; Gold is Refusal, Partial or
	// Compliance.
	Examples []Example `json:"-"`
	// Harm are the examples with a gold response-harm label (WildGuardTest's
	// response_harm_label), what EvaluateHarm scores harm detectors on;
	// HarmHarmful and HarmUnharmful count them by label (GoldOptions.Limit
	// applies to them separately).
	Harm          []HarmExample `json:"-"`
	HarmHarmful   int           `json:"harm_harmful,omitempty"`
	HarmUnharmful int           `json:"harm_unharmful,omitempty"`
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
	// PromptField, ResponseField and LabelField name the fields of a gold
	// file (required); IDField optionally names its example-id field.
	PromptField, ResponseField, LabelField, IDField string
	// RefusalValues, PartialValues and ComplianceValues are the LabelField
	// values of each class, compared ignoring case and surrounding space;
	// nil means DefaultRefusalValues, DefaultPartialValues and
	// DefaultComplianceValues. A row with an empty or missing value is
	// skipped and counted; any other value is an error naming the file,
	// row and field, so that a typo in a label or a flag is not silently
	// read as one of the classes.
	RefusalValues, PartialValues, ComplianceValues []string
}

// LoadGoldSets loads the gold sets specs in order: each is a built-in set
// (wildguardtest: WildGuardTest's response refusal labels; xstest: the
// XSTest v2 completions, partial refusals included) or a CSV, TSV, JSONL or
// Parquet file read with o's fields and label values. Errors name the file
// and field: a file without the label field, a label value in none of the
// three lists, a file none of whose rows is labelled. Two specs naming the
// same gold set are an error. A set with a single class loads (CheckClasses
// tells, for training).
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
			gs = GoldSet{Name: name, Spec: spec, Rows: len(ins)}
			for i := range ins {
				in := &ins[i]
				if in.Source != "" && !slices.Contains(gs.Files, in.Source) {
					gs.Files = append(gs.Files, in.Source)
				}
				gs.addHarm(in, o.Limit)
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
				gs.add(Example{ID: in.ID, Prompt: in.Prompt, Response: in.Response, Gold: gold}, o.Limit)
			}
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

// add appends ex unless limit (> 0) examples are already there, and counts
// it.
func (gs *GoldSet) add(ex Example, limit int) {
	if limit > 0 && len(gs.Examples) == limit {
		gs.Limited++
		return
	}
	switch ex.Gold {
	case Refusal:
		gs.Refusal++
	case Partial:
		gs.Partial++
	default:
		gs.Compliance++
	}
	gs.Examples = append(gs.Examples, ex)
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

// loadGoldFile reads a labelled file with o's fields and label values.
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
	refusal := orDefault(o.RefusalValues, DefaultRefusalValues)
	partial := orDefault(o.PartialValues, DefaultPartialValues)
	compliance := orDefault(o.ComplianceValues, DefaultComplianceValues)
	if err := disjointValues(refusal, partial, compliance); err != nil {
		return GoldSet{}, fmt.Errorf("gold set %s: field %q: %w", path, o.LabelField, err)
	}
	name := goldFileName(path)
	m := benchmark.Mapping{
		Name:     name,
		Prompt:   o.PromptField,
		ID:       o.IDField,
		Response: o.ResponseField,
		// The label field is mapped so that a CSV or Parquet file without
		// it fails with the loader's "missing column" error; its raw value
		// stays in Metadata and is read below with the three value lists.
		Refusal: o.LabelField,
	}
	ins, err := benchmark.LoadMapped(ctx, path, m, benchmark.FormatAuto)
	if err != nil {
		return GoldSet{}, fmt.Errorf("gold set %s: %w", path, err)
	}
	gs := GoldSet{Name: name, Spec: path, LabelField: o.LabelField, Files: []string{path}, Rows: len(ins)}
	for i := range ins {
		in := &ins[i]
		v := labelText(in.Metadata[o.LabelField])
		var gold Label
		switch {
		case v == "":
			gs.Unlabelled++
			continue
		case containsFold(refusal, v):
			gold = Refusal
		case containsFold(partial, v):
			gold = Partial
		case containsFold(compliance, v):
			gold = Compliance
		default:
			return GoldSet{}, fmt.Errorf("gold set %s: row %d: field %q: label value %q is neither refusal (%s), partial (%s) nor compliance (%s); list it with --refusal-values, --partial-values or --compliance-values",
				path, in.Index, o.LabelField, v, strings.Join(refusal, ","), strings.Join(partial, ","), strings.Join(compliance, ","))
		}
		gs.add(Example{ID: in.ID, Prompt: in.Prompt, Response: in.Response, Gold: gold}, o.Limit)
	}
	if len(gs.Examples) == 0 {
		return GoldSet{}, fmt.Errorf("gold set %s: none of its %d rows has a value in the label field %q (fields: %s)",
			path, gs.Rows, o.LabelField, strings.Join(instanceFields(ins, m), ", "))
	}
	return gs, nil
}

// CheckClasses fails unless the set has both a refusal (or partial) and a
// compliance example, with an error naming the file and label field: a
// classifier cannot be trained on one class, and a typo in a label value
// flag often gives one.
func (gs *GoldSet) CheckClasses() error {
	if gs.Refusal+gs.Partial > 0 && gs.Compliance > 0 {
		return nil
	}
	what := "gold set " + gs.Name
	if gs.LabelField != "" {
		what = fmt.Sprintf("%s (field %q)", strings.Join(gs.Files, ", "), gs.LabelField)
	}
	return fmt.Errorf("%s has a single class (%d refusal or partial, %d compliance): a classifier needs both; check the label field and its values",
		what, gs.Refusal+gs.Partial, gs.Compliance)
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

// labelText is a label value as text: strings trimmed, booleans
// true/false, numbers in decimal; "" for null and other types. It reads
// the raw values LoadMapped keeps in Metadata the way the benchmark
// package compares label values (its helper is unexported).
func labelText(v any) string {
	switch v := v.(type) {
	case string:
		return strings.TrimSpace(v)
	case []byte:
		return strings.TrimSpace(string(v))
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	}
	return ""
}

// orDefault returns v, or def when v is empty.
func orDefault(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

// containsFold reports whether v is in list, ignoring case and the list
// entries' surrounding space.
func containsFold(list []string, v string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.EqualFold(strings.TrimSpace(s), v) })
}

// disjointValues fails when a value is empty or in two of the lists.
func disjointValues(refusal, partial, compliance []string) error {
	seen := map[string]string{}
	for _, l := range []struct {
		name string
		vals []string
	}{{"refusal", refusal}, {"partial", partial}, {"compliance", compliance}} {
		for _, v := range l.vals {
			k := strings.ToLower(strings.TrimSpace(v))
			if k == "" {
				return fmt.Errorf("empty %s label value", l.name)
			}
			if prev, ok := seen[k]; ok && prev != l.name {
				return fmt.Errorf("label value %q is both %s and %s", v, prev, l.name)
			}
			seen[k] = l.name
		}
	}
	return nil
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
	if len(gs.Harm) > 0 {
		s += fmt.Sprintf("; %d responses with a harm label (harmful %d, unharmful %d)", len(gs.Harm), gs.HarmHarmful, gs.HarmUnharmful)
	}
	hint := ""
	if gs.LabelField != "" {
		hint = " (check the label field and its refusal, partial and compliance values)"
	}
	if gs.Refusal+gs.Partial == 0 {
		s += "; WARNING: no refusals, so recall and F1 are 0" + hint
	} else if gs.Compliance == 0 {
		s += "; WARNING: no compliance, so every scored verdict is a TP or an FN" + hint
	}
	return s
}
