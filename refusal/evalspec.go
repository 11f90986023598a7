package refusal

import (
	"errors"
	"fmt"
	"strings"
)

// ErrJudgeFormat is returned (wrapped) by ParseEvalDetectors for a judge
// whose prompt format is neither known from its model's name nor given.
var ErrJudgeFormat = fmt.Errorf("cannot tell the judge's prompt format from the model name; give the format, %s or %s", FormatWildGuard, FormatQwen3Guard)

// ParseEvalDetectors parses the detector specs of deepconf refusal-eval
// (patterns, patterns:seed, judge:<model>, …; "" is DefaultSpec) before any
// data is loaded or any model opened: each must be a known detector, a
// judge must name its model, and its prompt format must be known from the
// model's name or given (format).
func ParseEvalDetectors(values []string, format JudgeFormat) ([]EvalDetector, error) {
	if len(values) == 0 {
		return nil, errors.New("give at least one detector")
	}
	var specs []EvalDetector
	seen := map[string]bool{}
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			v = DefaultSpec
		}
		if seen[v] {
			return nil, fmt.Errorf("%q given twice", v)
		}
		seen[v] = true
		model, ok := strings.CutPrefix(v, SpecJudgePrefix)
		if !ok {
			if _, err := New(v); err != nil {
				return nil, err
			}
			specs = append(specs, EvalDetector{Spec: v})
			continue
		}
		if model == "" {
			return nil, fmt.Errorf("%q: give the judge's model, judge:<model>", v)
		}
		if _, ok := FormatForModel(model); !ok && format == "" {
			return nil, fmt.Errorf("%q: %w", v, ErrJudgeFormat)
		}
		specs = append(specs, EvalDetector{Spec: v, Judge: model})
	}
	return specs, nil
}
