package refusal

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/benchmark"
)

// LabelledSource says where LoadLabelledSet finds labelled responses: the
// built-in gold sets' location, and how to read a labelled file.
//
// It is the minimal loader refusal-train needs; refusal-eval has its own
// gold-set building, which reads unknown file label values as compliance.
// Here every label value must be listed, so that a typo in a label or a
// flag is an error and not silently a compliance.
type LabelledSource struct {
	// Data is a local file or directory with the built-in gold sets;
	// Fetch downloads them when Data is empty.
	Data  string
	Fetch benchmark.FetchFunc
	// PromptField, ResponseField and LabelField name a file's fields
	// (required); IDField optionally names its example-id field.
	PromptField   string
	ResponseField string
	LabelField    string
	IDField       string
	// RefusalValues, PartialValues and ComplianceValues are the
	// LabelField values of each class (compared ignoring case and
	// surrounding space); nil means DefaultRefusalValues,
	// DefaultPartialValues and DefaultComplianceValues. Any other non-empty
	// value is an error; rows with an empty or missing value are skipped
	// and counted.
	RefusalValues    []string
	PartialValues    []string
	ComplianceValues []string
}

// Default label values of a labelled file.
var (
	DefaultRefusalValues    = []string{"refusal", "refused", "2_full_refusal", "1", "true", "yes"}
	DefaultPartialValues    = []string{"partial_refusal", "partial", "3_partial_refusal"}
	DefaultComplianceValues = []string{"compliance", "complied", "1_full_compliance", "0", "false", "no"}
)

// LoadedSet is a labelled set and what loading it skipped.
type LoadedSet struct {
	LabelledSet
	// Files are the files read.
	Files []string
	// Rows is the number of rows read; Unlabelled of them had no label
	// and were skipped.
	Rows       int
	Unlabelled int
}

// builtinTrainingSet returns the benchmark and set name of a built-in gold
// set spec, or "" when spec is not one.
func builtinTrainingSet(spec string) (bench, name string) {
	switch strings.ToLower(spec) {
	case "wildguardtest", "wildguardmix":
		return "wildguardmix", "wildguardtest"
	case "xstest", "xstest-v2", "xstest-completions":
		return "xstest-completions", "xstest-v2"
	}
	return "", ""
}

// LoadLabelledSet loads one training set: a built-in gold set
// ("wildguardtest": WildGuardTest's response_refusal_label; "xstest": the
// XSTest v2 completions' final_label) or a CSV, TSV, JSONL or Parquet file
// read with src's fields and label values. Errors name the file and field:
// a file without the label field, a label value in none of the three lists,
// and a file or set whose labelled rows are all of one class.
func LoadLabelledSet(ctx context.Context, spec string, src LabelledSource) (LoadedSet, error) {
	if bench, name := builtinTrainingSet(spec); bench != "" {
		ins, err := benchmark.Load(ctx, bench, benchmark.Options{Data: src.Data, Fetch: src.Fetch})
		if err != nil {
			return LoadedSet{}, fmt.Errorf("%s: %w", spec, err)
		}
		ls := LoadedSet{LabelledSet: LabelledSet{Name: name}, Rows: len(ins)}
		files := map[string]bool{}
		for i := range ins {
			in := &ins[i]
			if in.Source != "" && !files[in.Source] {
				files[in.Source] = true
				ls.Files = append(ls.Files, in.Source)
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
				ls.Unlabelled++
				continue
			}
			ls.Examples = append(ls.Examples, Example{ID: in.ID, Prompt: in.Prompt, Response: in.Response, Gold: gold})
		}
		if err := checkClasses(ls.Examples, "gold set "+name); err != nil {
			return LoadedSet{}, err
		}
		return ls, nil
	}
	return loadLabelledFile(ctx, spec, src)
}

func loadLabelledFile(ctx context.Context, path string, src LabelledSource) (LoadedSet, error) {
	switch {
	case src.PromptField == "":
		return LoadedSet{}, fmt.Errorf("%s: the prompt field is required", path)
	case src.ResponseField == "":
		return LoadedSet{}, fmt.Errorf("%s: the response field is required", path)
	case src.LabelField == "":
		return LoadedSet{}, fmt.Errorf("%s: the label field is required", path)
	}
	refusal := orDefault(src.RefusalValues, DefaultRefusalValues)
	partial := orDefault(src.PartialValues, DefaultPartialValues)
	compliance := orDefault(src.ComplianceValues, DefaultComplianceValues)
	if err := disjointValues(refusal, partial, compliance); err != nil {
		return LoadedSet{}, fmt.Errorf("%s: field %q: %w", path, src.LabelField, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), ".gz")
	name = strings.TrimSuffix(name, filepath.Ext(name))
	m := benchmark.Mapping{
		Name:     name,
		Prompt:   src.PromptField,
		ID:       src.IDField,
		Response: src.ResponseField,
		// The label field is mapped so that a CSV or Parquet file without
		// it fails with the loader's "missing column" error; its raw value
		// stays in Metadata and is read below with the three value lists.
		Refusal: src.LabelField,
	}
	ins, err := benchmark.LoadMapped(ctx, path, m, benchmark.FormatAuto)
	if err != nil {
		return LoadedSet{}, err
	}
	ls := LoadedSet{LabelledSet: LabelledSet{Name: name}, Files: []string{path}, Rows: len(ins)}
	present := false
	fields := map[string]bool{}
	for i := range ins {
		in := &ins[i]
		raw, ok := in.Metadata[src.LabelField]
		for k := range in.Metadata {
			fields[k] = true
		}
		if ok {
			present = true
		}
		v := labelText(raw)
		var gold Label
		switch {
		case v == "":
			ls.Unlabelled++
			continue
		case containsFold(refusal, v):
			gold = Refusal
		case containsFold(partial, v):
			gold = Partial
		case containsFold(compliance, v):
			gold = Compliance
		default:
			return LoadedSet{}, fmt.Errorf("%s: row %d: field %q: label value %q is neither refusal (%s), partial (%s) nor compliance (%s); list it with --refusal-values, --partial-values or --compliance-values",
				path, in.Index, src.LabelField, v, strings.Join(refusal, ","), strings.Join(partial, ","), strings.Join(compliance, ","))
		}
		ls.Examples = append(ls.Examples, Example{ID: in.ID, Prompt: in.Prompt, Response: in.Response, Gold: gold})
	}
	if !present && len(ins) > 0 {
		names := make([]string, 0, len(fields)+2)
		for k := range fields {
			names = append(names, strconv.Quote(k))
		}
		names = append(names, strconv.Quote(src.PromptField), strconv.Quote(src.ResponseField))
		sort.Strings(names)
		return LoadedSet{}, fmt.Errorf("%s: no row has the label field %q (fields: %s)", path, src.LabelField, strings.Join(names, ", "))
	}
	if len(ls.Examples) == 0 {
		return LoadedSet{}, fmt.Errorf("%s: field %q: none of the %d rows has a label value", path, src.LabelField, len(ins))
	}
	if err := checkClasses(ls.Examples, fmt.Sprintf("%s (field %q)", path, src.LabelField)); err != nil {
		return LoadedSet{}, err
	}
	return ls, nil
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

// disjointValues fails when a value is in two of the lists.
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
