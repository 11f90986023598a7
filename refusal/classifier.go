package refusal

import (
	"bytes"
	"context"
	_ "embed" // the shipped models
	"fmt"
	"os"
	"strconv"
	"sync"
)

// The shipped models; models/README.md says how they were made.
var (
	//go:embed models/classifier-v2.model
	classifierModelFile []byte
	//go:embed models/ensemble-v2.model
	ensembleModelFile []byte
)

// Names of the shipped model files, for error messages and Header.
const (
	classifierModelName = "models/classifier-v2.model"
	ensembleModelName   = "models/ensemble-v2.model"
)

// ClassifierModel returns the shipped classifier model (detector
// "classifier"): a new copy on every call.
func ClassifierModel() (*Model, error) {
	return ReadModel(bytes.NewReader(classifierModelFile), classifierModelName)
}

// EnsembleModel returns the shipped ensemble model (detector "ensemble"):
// the classifier's features plus the patterns detector's verdict.
func EnsembleModel() (*Model, error) {
	return ReadModel(bytes.NewReader(ensembleModelFile), ensembleModelName)
}

// LoadModel reads a model file written by WriteModel (deepconf
// refusal-train).
func LoadModel(path string) (*Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load model: %w", err)
	}
	return ReadModel(bytes.NewReader(b), path)
}

// Classifier is a Detector backed by a Model. When the model was trained
// with the patterns verdict as features (an ensemble), Detect runs the
// patterns detector first, and a refusal on which patterns said Partial is
// labelled Partial. It is safe for concurrent use.
type Classifier struct {
	name  string
	model *Model
	rules patternDetector
	pool  sync.Pool // *features
}

// NewClassifier returns a detector named name (its spec) that labels with m.
func NewClassifier(name string, m *Model) (*Classifier, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("classifier %s: %w", name, err)
	}
	c := &Classifier{name: name, model: m, rules: patternDetector{rules: defaultRules}}
	c.pool.New = func() any { return new(features) }
	return c, nil
}

// Name returns the detector's spec.
func (c *Classifier) Name() string { return c.name }

// Model returns the detector's model.
func (c *Classifier) Model() *Model { return c.model }

// Detect labels response. Rule is "classifier" (or "ensemble:<patterns
// rule>" for an ensemble) and Detail holds P(refusal). It never fails.
func (c *Classifier) Detect(_ context.Context, _, response string) (Verdict, error) {
	return c.detect(response), nil
}

func (c *Classifier) detect(response string) Verdict {
	var pv *Verdict
	if c.model.Features.Rules {
		v := c.rules.decide(c.rules.analyze(response))
		pv = &v
	}
	f := c.pool.Get().(*features)
	f.extract(&c.model.Features, response, pv)
	p := sigmoid(c.model.score(f))
	c.pool.Put(f)
	v := Verdict{Label: Compliance, Rule: "classifier", Detail: "p=" + strconv.FormatFloat(p, 'f', 3, 64)}
	if p >= c.model.Threshold {
		v.Label = Refusal
	}
	if pv != nil {
		v.Rule = "ensemble:" + pv.Rule
		if v.Label == Refusal && pv.Label == Partial {
			v.Label = Partial
		}
	}
	return v
}
