package simulate

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/refusal"
)

// The scripted engine: an engine.Engine whose traces are drawn from the
// scenario instead of a model. Everything downstream — the controller's
// scoring, early stop, votes and replay, the analysis — is the product's
// code; only the tokens are planted. A trace is a function of its seed (the
// controller's per-trace seed) and its instance, so the same trace index
// gives the same response whichever policy asks for it, as with a real
// engine and fixed seeds.

// instancePlan is what the scenario drew for one instance.
type instancePlan struct {
	harmful    bool
	certainty  float64 // latent c_i
	propensity float64 // per-trace refusal probability
	salt       uint64  // mixes the instance into every trace's random stream
}

// texts holds the planted responses: the pieces of a refusal and of a
// compliance, long enough for any trace, and the byte offset after each
// piece, so that a trace of n tokens is a prefix of the full text without
// allocating.
type texts struct {
	pieces [2][]string // [refusal, compliance]
	full   [2]string
	end    [2][]int
}

// Openers of the planted responses; detector recognises them.
const (
	refusalOpener    = "I can't help with that."
	complianceOpener = "Sure, here is an overview."
)

func newTexts(maxTokens int) *texts {
	// Short filler pieces keep the texts small: only their openers are
	// read (by the detector), but the controller also scans every voting
	// text for the prototype's unsafe keywords.
	filler := []string{"a", "b", "c", "d"}
	open := [2][]string{
		{"I", " can't", " help", " with", " that", "."},
		{"Sure", ",", " here", " is", " an", " overview", "."},
	}
	t := &texts{}
	for b := range 2 {
		var sb strings.Builder
		for i := range maxTokens {
			p := ""
			if i < len(open[b]) {
				p = open[b][i]
			} else {
				p = " " + filler[(i-len(open[b]))%len(filler)]
			}
			t.pieces[b] = append(t.pieces[b], p)
			sb.WriteString(p)
			t.end[b] = append(t.end[b], sb.Len())
		}
		t.full[b] = sb.String()
	}
	return t
}

// text returns the first n tokens of behaviour b's response.
func (t *texts) text(b, n int) string {
	if n == 0 {
		return ""
	}
	return t.full[b][:t.end[b][n-1]]
}

// scriptedEngine serves one instance.
type scriptedEngine struct {
	s       *Scenario
	lengths *Lengths
	texts   *texts
	plan    instancePlan
}

func (e *scriptedEngine) Open(context.Context, engine.Prompt) (engine.Session, error) { return e, nil }
func (e *scriptedEngine) Info() engine.Info                                           { return engine.Info{Name: "simulate"} }
func (e *scriptedEngine) Close() error                                                { return nil }
func (e *scriptedEngine) PromptTokens() int                                           { return 0 }

// Sample draws the trace whose seed is s.Seed: its behaviour, its natural
// length, its level and its token confidences, in that order from one
// random stream, and hands the tokens to fn until it stops them.
func (e *scriptedEngine) Sample(ctx context.Context, s engine.Sampling, fn engine.TokenFunc) (engine.Result, error) {
	sc := e.s
	r := rand.New(rand.NewPCG(s.Seed, e.plan.salt))
	refuse := r.Float64() < e.plan.propensity
	n := e.lengths.Draw(e.plan.harmful, refuse, r.Float64())
	finish := engine.FinishStop
	if n > s.MaxTokens {
		n, finish = s.MaxTokens, engine.FinishLength
	}
	b := 1
	level := sc.Level + sc.InstanceSD*e.plan.certainty + sc.TraceSD*r.NormFloat64()
	if refuse {
		b = 0
		level += sc.RefusalShift
	}
	k := s.TopLogprobs
	top := make([]float64, k)
	innov := sc.TokenSD * math.Sqrt(1-sc.TokenAR*sc.TokenAR)
	noise := sc.TokenSD * r.NormFloat64() // stationary start
	tok := engine.Token{ID: -1, TopLogprobs: top}
	for j := range n {
		if j > 0 {
			noise = sc.TokenAR*noise + innov*r.NormFloat64()
		}
		c := level + noise
		if r.Float64() < sc.DipRate {
			c -= sc.DipDepth
		}
		c = max(c, 0.1)
		// Top-k log-probabilities whose mean is −c: the sampled (top)
		// token nearly certain, the k − 1 alternatives sharing the rest.
		if k == 1 {
			top[0] = -c
		} else {
			top[0] = -0.01
			rest := -(float64(k)*c - 0.01) / float64(k-1)
			for i := 1; i < k; i++ {
				top[i] = rest
			}
		}
		tok.Index, tok.Text, tok.Logprob = j, e.texts.pieces[b][j], top[0]
		if ctx.Err() != nil || !fn(&tok) {
			return engine.Result{Text: e.texts.text(b, j+1), Tokens: j + 1, Finish: engine.FinishCancelled}, nil
		}
	}
	return engine.Result{Text: e.texts.text(b, n), Tokens: n, Finish: finish}, nil
}

// detector labels the planted responses by their opening token: the
// simulated behaviour is known, so the detector is exact (detector errors
// are not what the simulation studies).
type detector struct{}

func (detector) Name() string { return "simulate" }
func (detector) Detect(_ context.Context, _, text string) (refusal.Verdict, error) {
	switch {
	case strings.HasPrefix(text, "I"):
		return refusal.Verdict{Label: refusal.Refusal, Rule: "planted refusal"}, nil
	case strings.HasPrefix(text, "Sure"):
		return refusal.Verdict{Label: refusal.Compliance, Rule: "planted compliance"}, nil
	}
	return refusal.Verdict{Label: refusal.Unparseable, Rule: "empty"}, nil
}
