package refusal

import (
	"context"
	"fmt"
	"strings"

	"github.com/deepconf/deepconf/engine"
)

// Label is a detector's decision about one response.
type Label string

// Labels a Detector can return.
const (
	// Refusal: the response declines the request.
	Refusal Label = "refusal"
	// Compliance: the response attempts the request.
	Compliance Label = "compliance"
	// Partial: the response refuses part of the request and complies with
	// the rest, or refuses and offers a substitute (a partial refusal). It
	// counts as a refusal for binary scoring.
	Partial Label = "partial"
	// Unparseable: a judge's output could not be parsed into a label.
	// Verdict.Rule then holds the raw output. Evaluate excludes such
	// verdicts from the confusion matrix and counts them separately.
	Unparseable Label = "unparseable"
)

// IsRefusal reports whether l counts as a refusal for binary scoring:
// Refusal and Partial do, Compliance and Unparseable do not.
func (l Label) IsRefusal() bool { return l == Refusal || l == Partial }

// Valid reports whether l is one of the four labels.
func (l Label) Valid() bool {
	switch l {
	case Refusal, Compliance, Partial, Unparseable:
		return true
	}
	return false
}

// Verdict is a detector's decision with its reason.
type Verdict struct {
	// Label is the decision.
	Label Label `json:"label"`
	// Rule names the rule or phrase that decided: for the prototype detector the
	// matching phrase, for the default detector a rule name such as
	// "open:apology", for a judge its raw output.
	Rule string `json:"rule,omitempty"`
	// Detail is optional supporting evidence, such as the matched text.
	Detail string `json:"detail,omitempty"`
}

// Detector labels a model's response to a prompt as a refusal or not. The
// rule detectors are safe for concurrent use; a Judge is when its engine is.
type Detector interface {
	// Name identifies the detector, in the form of its spec
	// (e.g. "patterns", "patterns:seed", "judge:allenai/wildguard").
	Name() string
	// Detect labels response, the model's answer to prompt. Rule-based
	// detectors ignore ctx and never fail; judges return an error when
	// the engine fails, and an Unparseable verdict (not an error) when the
	// judge's output cannot be parsed.
	Detect(ctx context.Context, prompt, response string) (Verdict, error)
}

// Detector specs accepted by New.
const (
	// DefaultSpec is the detector runs use unless told otherwise: the
	// ensemble, chosen by leave-one-set-out F1 against the human refusal
	// labels (README, "Checking a refusal detector").
	DefaultSpec = SpecEnsemble
	// SpecPatterns is the rule-based detector (see Patterns).
	SpecPatterns = "patterns"
	// SpecPrototype is the prototype's 48-phrase substring detector (see Prototype).
	SpecPrototype = "patterns:seed"
	// SpecJudgePrefix starts a judge spec, "judge:<model>".
	SpecJudgePrefix = "judge:"
	// SpecClassifier is the shipped trained classifier (see Classifier).
	SpecClassifier = "classifier"
	// SpecClassifierPrefix starts a classifier spec with a model file,
	// "classifier:FILE" (a file written by deepconf refusal-train).
	SpecClassifierPrefix = "classifier:"
	// SpecEnsemble is the shipped classifier trained with the patterns
	// detector's verdict as features.
	SpecEnsemble = "ensemble"
)

// Option configures New.
type Option func(*config)

type config struct {
	engine    engine.Engine
	format    JudgeFormat
	maxTokens int
}

// WithEngine supplies the engine that runs a judge model. It is required for
// "judge:<model>" specs and ignored otherwise.
func WithEngine(e engine.Engine) Option { return func(c *config) { c.engine = e } }

// WithJudgeFormat selects the judge's prompt and output format. Without it,
// New infers the format from the model name (see FormatForModel).
func WithJudgeFormat(f JudgeFormat) Option { return func(c *config) { c.format = f } }

// WithJudgeMaxTokens sets the judge's generation budget (default
// DefaultJudgeMaxTokens).
func WithJudgeMaxTokens(n int) Option { return func(c *config) { c.maxTokens = n } }

// New returns the detector for a CLI spec:
//
//	""                  DefaultSpec
//	"patterns"          the rule-based detector (Patterns)
//	"patterns:seed"     the prototype's 48-phrase substring detector (Prototype)
//	"classifier"        the shipped trained classifier (ClassifierModel)
//	"classifier:FILE"   a classifier model file written by refusal-train
//	"ensemble"          the shipped classifier over the patterns verdict
//	                    and the text (EnsembleModel)
//	"judge:<model>"     an LLM judge run by the engine given with WithEngine;
//	                    the prompt format comes from WithJudgeFormat or is
//	                    inferred from <model> (FormatForModel)
func New(spec string, opts ...Option) (Detector, error) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	if spec == "" {
		spec = DefaultSpec
	}
	switch {
	case spec == SpecPatterns:
		return Patterns(), nil
	case spec == SpecPrototype:
		return Prototype(), nil
	case spec == SpecClassifier || spec == SpecEnsemble:
		load := ClassifierModel
		if spec == SpecEnsemble {
			load = EnsembleModel
		}
		m, err := load()
		if err != nil {
			return nil, fmt.Errorf("detector %q: %w", spec, err)
		}
		return NewClassifier(spec, m)
	case strings.HasPrefix(spec, SpecClassifierPrefix):
		path := strings.TrimPrefix(spec, SpecClassifierPrefix)
		if path == "" {
			return nil, fmt.Errorf("detector %q: missing model file after %q", spec, SpecClassifierPrefix)
		}
		m, err := LoadModel(path)
		if err != nil {
			return nil, fmt.Errorf("detector %q: %w", spec, err)
		}
		return NewClassifier(spec, m)
	case strings.HasPrefix(spec, SpecJudgePrefix):
		model := strings.TrimPrefix(spec, SpecJudgePrefix)
		if model == "" {
			return nil, fmt.Errorf("detector %q: missing model name after %q", spec, SpecJudgePrefix)
		}
		if c.engine == nil {
			return nil, fmt.Errorf("detector %q: a judge needs an engine (WithEngine)", spec)
		}
		f := c.format
		if f == "" {
			var ok bool
			if f, ok = FormatForModel(model); !ok {
				return nil, fmt.Errorf("detector %q: cannot tell the judge format from the model name; choose one of %q, %q (WithJudgeFormat)",
					spec, FormatWildGuard, FormatQwen3Guard)
			}
		}
		if f == FormatLlamaGuard3 {
			return nil, fmt.Errorf("detector %q: %w", spec, errNoRefusalLabel(model))
		}
		return NewJudge(model, c.engine, f, c.maxTokens)
	}
	return nil, fmt.Errorf("unknown detector %q: want %q, %q, %q, %q, %qFILE or %q<model>",
		spec, SpecPatterns, SpecPrototype, SpecClassifier, SpecEnsemble, SpecClassifierPrefix, SpecJudgePrefix)
}

// Open returns the detector of spec (New). A judge's engine is opened with
// openJudge(ctx, model) and released by the returned function, which is
// nil for the other detectors.
func Open(ctx context.Context, spec string, openJudge func(ctx context.Context, model string) (engine.Engine, error)) (Detector, func() error, error) {
	model, ok := strings.CutPrefix(spec, SpecJudgePrefix)
	if !ok {
		d, err := New(spec)
		return d, nil, err
	}
	e, err := openJudge(ctx, model)
	if err != nil {
		return nil, nil, fmt.Errorf("judge model: %w", err)
	}
	d, err := New(spec, WithEngine(e))
	if err != nil {
		e.Close()
		return nil, nil, err
	}
	return d, e.Close, nil
}
