package benchmark

import (
	"cmp"
	"fmt"
	"slices"
)

// Label is the gold harmfulness label of a benchmark prompt.
type Label string

// Prompt labels.
const (
	// Harmful marks a prompt that a safe model should refuse.
	Harmful Label = "harmful"
	// Benign marks a prompt that a helpful model should answer.
	Benign Label = "benign"
	// Unknown marks a prompt whose source gives no label (for example the
	// 26 WildGuardTest rows with a null prompt_harm_label).
	Unknown Label = "unknown"
)

// ParseLabel converts "harmful", "benign" or "unknown" to a Label.
func ParseLabel(s string) (Label, error) {
	switch l := Label(s); l {
	case Harmful, Benign, Unknown:
		return l, nil
	}
	return "", fmt.Errorf("label %q: want harmful, benign or unknown", s)
}

// RefusalLabel is a human gold label saying whether a benchmark's own
// response (Instance.Response) refuses the prompt.
type RefusalLabel string

// Gold refusal labels.
const (
	// NoRefusalLabel means the benchmark gives no refusal label for the
	// instance.
	NoRefusalLabel RefusalLabel = ""
	// Compliance means the response answers the prompt (WildGuardTest
	// "compliance", XSTest "1_full_compliance").
	Compliance RefusalLabel = "compliance"
	// FullRefusal means the response refuses (WildGuardTest "refusal",
	// XSTest "2_full_refusal").
	FullRefusal RefusalLabel = "refusal"
	// PartialRefusal means the response mixes refusal and compliance
	// (XSTest "3_partial_refusal").
	PartialRefusal RefusalLabel = "partial_refusal"
)

// IsRefusal reports whether r counts as a refusal under XSTest's
// convention: full and partial refusals both count.
func (r RefusalLabel) IsRefusal() bool { return r == FullRefusal || r == PartialRefusal }

// Instance is one benchmark prompt with its gold labels.
type Instance struct {
	// ID follows the prototype's scheme <bench>_<split>_<i>, for example
	// toxicchat_test_0 or wildguardmix_test_12 (see the package
	// documentation for every benchmark's scheme).
	ID string `json:"id"`
	// Index is the 0-based data row of the instance in its source file
	// (header and blank lines not counted); it is the <i> of the ID.
	Index int `json:"index"`
	// Benchmark is the registry name of the benchmark, or the name given
	// to a mapped file.
	Benchmark string `json:"benchmark"`
	// Source is the path of the file the instance was read from; empty
	// for generated instances.
	Source string `json:"source,omitempty"`
	// Prompt is the user prompt sent to the model.
	Prompt string `json:"prompt"`
	// Label is the gold prompt label.
	Label Label `json:"label"`
	// Category is the benchmark's harm category or prompt type, if any.
	Category string `json:"category,omitempty"`
	// Response is the benchmark's own gold response (WildGuardTest
	// response, XSTest v2 completion); empty when there is none.
	Response string `json:"response,omitempty"`
	// RefusalLabel is the human label of Response.
	RefusalLabel RefusalLabel `json:"refusal_label,omitempty"`
	// Adversarial is WildGuardTest's flag for adversarial (jailbreak)
	// prompts; false for benchmarks that do not record it.
	Adversarial bool `json:"adversarial,omitempty"`
	// Metadata holds every source field that is not stored verbatim in
	// Prompt, Category, Response or Adversarial, with its source value
	// (CSV: string; JSON: string, int64, float64, bool, nil, []any or
	// map[string]any; Parquet: the column's Go value, maps and slices for
	// nested columns). Raw label fields
	// stay here too, so nothing of the source row is lost.
	Metadata map[string]any `json:"metadata,omitempty"`
}

// PrototypeGroundTruth returns the prototype's ground truth for the instance,
// "unsafe" or "safe", exactly as docs/prototype.md §10 maps it: "unsafe" iff
// the prompt is harmful (ToxicChat toxicity == 1, WildGuardMix
// prompt_harm_label == "harmful", every HarmBench behaviour, the synthetic
// unsafe requests); everything else, unlabelled prompts included
// (WildGuardMix's missing prompt_harm_label), is "safe".
func (in *Instance) PrototypeGroundTruth() string {
	if in.Label == Harmful {
		return "unsafe"
	}
	return "safe"
}

// Count is a value with the number of instances that have it.
type Count struct {
	Value string
	N     int
}

// Summary counts the labels and categories of a set of instances.
type Summary struct {
	// Total is the number of instances.
	Total int
	// Labels counts instances by prompt label.
	Labels map[Label]int
	// Refusals counts instances by gold refusal label; instances without
	// one are counted under NoRefusalLabel.
	Refusals map[RefusalLabel]int
	// WithResponse is the number of instances with a gold response.
	WithResponse int
	// Adversarial is the number of adversarial instances.
	Adversarial int
	// Categories counts instances by category, most frequent first (ties
	// by name); instances without a category are not counted.
	Categories []Count
}

// Summarize counts the labels and categories of instances.
func Summarize(instances []Instance) Summary {
	s := Summary{
		Total:    len(instances),
		Labels:   make(map[Label]int),
		Refusals: make(map[RefusalLabel]int),
	}
	cats := make(map[string]int)
	for i := range instances {
		in := &instances[i]
		s.Labels[in.Label]++
		s.Refusals[in.RefusalLabel]++
		if in.Response != "" {
			s.WithResponse++
		}
		if in.Adversarial {
			s.Adversarial++
		}
		if in.Category != "" {
			cats[in.Category]++
		}
	}
	for v, n := range cats {
		s.Categories = append(s.Categories, Count{Value: v, N: n})
	}
	slices.SortFunc(s.Categories, func(a, b Count) int {
		if c := cmp.Compare(b.N, a.N); c != 0 {
			return c
		}
		return cmp.Compare(a.Value, b.Value)
	})
	return s
}
