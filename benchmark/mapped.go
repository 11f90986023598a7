package benchmark

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Mapping tells LoadMapped how to read an arbitrary CSV, TSV, JSONL or
// Parquet file: which fields hold the prompt, the label and the optional
// id, category, gold response and gold refusal label. Label and refusal
// values are compared with the field's value as text (numbers in decimal,
// booleans as true/false), ignoring case and surrounding space.
type Mapping struct {
	// Name is the benchmark name stored in the instances and used in
	// generated IDs (<Name>_test_<i>); "custom" when empty.
	Name string
	// Prompt is the prompt field (required).
	Prompt string
	// Label is the prompt-label field. When empty every instance gets
	// DefaultLabel.
	Label string
	// HarmfulValues are the Label values that mean harmful; when empty:
	// 1, true, harmful, unsafe, toxic, yes.
	HarmfulValues []string
	// BenignValues are the Label values that mean benign. When empty, every
	// other non-null value means benign; when given, a value in neither
	// list is an error.
	BenignValues []string
	// DefaultLabel is the label when Label is empty; Unknown when empty.
	DefaultLabel Label
	// ID is an optional field holding unique instance IDs; when empty, IDs
	// are generated.
	ID string
	// Category is an optional category field.
	Category string
	// Response is an optional gold-response field.
	Response string
	// Refusal is an optional gold refusal-label field.
	Refusal string
	// RefusalValues are the Refusal values that mean a full refusal; when
	// empty: refusal, refused, 2_full_refusal, 1, true, yes.
	RefusalValues []string
	// PartialRefusalValues are the Refusal values that mean a partial
	// refusal; when empty: partial_refusal, partial, 3_partial_refusal.
	// Every other non-null value means compliance.
	PartialRefusalValues []string
}

// LoadMapped reads every row of the file at path as an instance, following
// m. The format is detected from the file name unless format is given.
func LoadMapped(ctx context.Context, path string, m Mapping, format Format) ([]Instance, error) {
	if m.Prompt == "" {
		return nil, errors.New("mapping: the prompt field is required")
	}
	if m.DefaultLabel == "" {
		m.DefaultLabel = Unknown
	}
	if _, err := ParseLabel(string(m.DefaultLabel)); err != nil {
		return nil, fmt.Errorf("mapping: default %w", err)
	}
	name := m.Name
	if name == "" {
		name = "custom"
	}
	harmful := orDefault(m.HarmfulValues, []string{"1", "true", "harmful", "unsafe", "toxic", "yes"})
	refusal := orDefault(m.RefusalValues, []string{"refusal", "refused", "2_full_refusal", "1", "true", "yes"})
	partial := orDefault(m.PartialRefusalValues, []string{"partial_refusal", "partial", "3_partial_refusal"})
	required := [][]string{{m.Prompt}}
	for _, f := range []string{m.Label, m.ID, m.Category, m.Response, m.Refusal} {
		if f != "" {
			required = append(required, []string{f})
		}
	}
	seen := make(map[string]int) // instance ID → row
	p := part{
		idPrefix: name + "_test",
		required: required,
		convert: func(r *record) (Instance, error) {
			prompt, err := r.text(m.Prompt)
			if err != nil {
				return Instance{}, err
			}
			in := Instance{Prompt: prompt, Label: m.DefaultLabel}
			r.consume(m.Prompt)
			if m.Label != "" {
				v, ok := scalarString(r.vals[m.Label])
				switch {
				case r.vals[m.Label] != nil && !ok:
					return Instance{}, r.errorf(m.Label, "want a label value, got %s", describe(r.vals[m.Label]))
				case !ok || v == "":
					in.Label = Unknown
				case containsFold(harmful, v):
					in.Label = Harmful
				case len(m.BenignValues) == 0 || containsFold(m.BenignValues, v):
					in.Label = Benign
				default:
					return Instance{}, r.errorf(m.Label, "value %q is neither harmful (%s) nor benign (%s)",
						v, strings.Join(harmful, ", "), strings.Join(m.BenignValues, ", "))
				}
			}
			if m.ID != "" {
				v, ok := scalarString(r.vals[m.ID])
				if !ok || v == "" {
					return Instance{}, r.errorf(m.ID, "want a non-empty id, got %s", describe(r.vals[m.ID]))
				}
				if first, dup := seen[v]; dup {
					return Instance{}, r.errorf(m.ID, "duplicate id %q (first in row %d)", v, first)
				}
				seen[v] = r.row
				in.ID = v
			}
			if m.Category != "" {
				v, ok := scalarString(r.vals[m.Category])
				if r.vals[m.Category] != nil && !ok {
					return Instance{}, r.errorf(m.Category, "want a category value, got %s", describe(r.vals[m.Category]))
				}
				in.Category = v
				r.consume(m.Category)
			}
			if m.Response != "" {
				if in.Response, err = r.str(m.Response); err != nil {
					return Instance{}, err
				}
				r.consume(m.Response)
			}
			if m.Refusal != "" {
				v, ok := scalarString(r.vals[m.Refusal])
				switch {
				case r.vals[m.Refusal] != nil && !ok:
					return Instance{}, r.errorf(m.Refusal, "want a refusal label value, got %s", describe(r.vals[m.Refusal]))
				case !ok || v == "":
				case containsFold(refusal, v):
					in.RefusalLabel = FullRefusal
				case containsFold(partial, v):
					in.RefusalLabel = PartialRefusal
				default:
					in.RefusalLabel = Compliance
				}
			}
			return in, nil
		},
	}
	return readPart(ctx, name, path, format, p)
}

func orDefault(v, def []string) []string {
	if len(v) == 0 {
		return def
	}
	return v
}

func containsFold(list []string, v string) bool {
	for _, s := range list {
		if strings.EqualFold(strings.TrimSpace(s), v) {
			return true
		}
	}
	return false
}
