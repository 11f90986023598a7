package simulate

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/internal/setting"
)

// Scenario describes the simulated experiments: the benchmark (how many
// prompts, how many harmful), the model's behaviour, how long its responses
// are, how its token confidences arise, and the planted effect.
type Scenario struct {
	// Name labels the scenario in reports.
	Name string `json:"name"`
	// Harmful is the share of harmful prompts, in [0, 1].
	Harmful float64 `json:"harmful"`
	// RefuseHarmful and RefuseBenign are the mean probabilities that a
	// trace refuses a harmful and a benign prompt. Each instance draws its
	// own refusal propensity from a Beta distribution with that mean and
	// the concentration Spread (smaller = more instances on which the
	// model is torn between refusing and complying).
	RefuseHarmful float64 `json:"refuse_harmful"`
	RefuseBenign  float64 `json:"refuse_benign"`
	Spread        float64 `json:"spread"`
	// Lengths names the gold set whose response lengths are drawn
	// (GoldSetNames): each trace's length follows the distribution of
	// human-labelled responses with its prompt label and behaviour.
	Lengths string `json:"lengths"`
	// Effect is the planted difference in unsafe rate (harmful prompt and
	// complied) between the less and the more certain half of the
	// complied instances, on the latent certainty (0 = the null). The
	// measured difference is smaller: the split sees certainty only
	// through noisy token confidences.
	Effect float64 `json:"effect"`

	// The latent-certainty model of token confidences: instance i has a
	// certainty c_i ~ N(0, 1) (shifted down by δ for harmful prompts,
	// where δ plants Effect); trace j of it has the level
	// Level + InstanceSD·c_i + TraceSD·u_ij (u_ij ~ N(0, 1)), plus
	// RefusalShift when it refuses; its token confidences are the level
	// plus AR(1) Gaussian noise with standard deviation TokenSD and lag-1
	// correlation TokenAR, minus DipDepth on a DipRate share of tokens
	// (uncertain tokens make the noise skewed), and at least 0.1.
	Level        float64 `json:"level"`
	InstanceSD   float64 `json:"instance_sd"`
	TraceSD      float64 `json:"trace_sd"`
	TokenSD      float64 `json:"token_sd"`
	TokenAR      float64 `json:"token_ar"`
	DipRate      float64 `json:"dip_rate"`
	DipDepth     float64 `json:"dip_depth"`
	RefusalShift float64 `json:"refusal_shift"`
}

// Scenario presets (ScenarioNames).
const (
	// ScenarioBalanced has half of the prompts harmful, with XSTest's
	// response lengths (refusals median ~110 tokens, compliances ~150–200).
	ScenarioBalanced = "balanced"
	// ScenarioToxicChat has 7% harmful prompts (ToxicChat's 7.1% toxic),
	// with WildGuardTest's lengths (compliances mostly beyond 256 tokens).
	ScenarioToxicChat = "toxicchat"
)

// ScenarioNames lists the presets.
func ScenarioNames() []string { return []string{ScenarioBalanced, ScenarioToxicChat} }

// Preset returns the named scenario with the default latent-certainty
// model and no planted effect.
func Preset(name string) (Scenario, error) {
	s := Scenario{
		Name: name, Spread: 2, Level: 14, InstanceSD: 1.5, TraceSD: 0.8,
		TokenSD: 2.5, TokenAR: 0.3, DipRate: 0.05, DipDepth: 5,
	}
	switch name {
	case ScenarioBalanced:
		s.Harmful, s.RefuseHarmful, s.RefuseBenign, s.Lengths = 0.5, 0.8, 0.15, "xstest"
	case ScenarioToxicChat:
		s.Harmful, s.RefuseHarmful, s.RefuseBenign, s.Lengths = 0.07, 0.6, 0.05, "wildguardtest"
	default:
		return Scenario{}, fmt.Errorf("scenario %q: want %s or %s", name, ScenarioBalanced, ScenarioToxicChat)
	}
	return s, nil
}

// Validate reports whether s is usable.
func (s Scenario) Validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	unit := func(x float64) bool { return x >= 0 && x <= 1 }
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	check(s.Harmful > 0 && s.Harmful < 1, "harmful share %g: must be in (0, 1)", s.Harmful)
	check(s.RefuseHarmful > 0 && s.RefuseHarmful < 1, "refusal rate of harmful prompts %g: must be in (0, 1)", s.RefuseHarmful)
	check(s.RefuseBenign > 0 && s.RefuseBenign < 1, "refusal rate of benign prompts %g: must be in (0, 1)", s.RefuseBenign)
	check(s.Spread > 0 && s.Spread <= 1000, "spread %g: must be in (0, 1000]", s.Spread)
	check(s.Effect >= 0 && s.Effect < 1, "effect %g: must be in [0, 1)", s.Effect)
	check(finite(s.Level) && s.Level > 0 && s.Level <= 100, "level %g: must be in (0, 100]", s.Level)
	check(s.InstanceSD >= 0 && s.InstanceSD <= 20, "instance sd %g: must be in [0, 20]", s.InstanceSD)
	check(s.TraceSD >= 0 && s.TraceSD <= 20, "trace sd %g: must be in [0, 20]", s.TraceSD)
	check(s.TokenSD >= 0 && s.TokenSD <= 20, "token sd %g: must be in [0, 20]", s.TokenSD)
	check(s.TokenAR >= 0 && s.TokenAR < 1, "token autocorrelation %g: must be in [0, 1)", s.TokenAR)
	check(unit(s.DipRate), "dip rate %g: must be in [0, 1]", s.DipRate)
	check(s.DipDepth >= 0 && s.DipDepth <= 100, "dip depth %g: must be in [0, 100]", s.DipDepth)
	check(finite(s.RefusalShift) && math.Abs(s.RefusalShift) <= 20, "refusal shift %g: must be in [−20, 20]", s.RefusalShift)
	if _, err := GoldSet(s.Lengths); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// complianceShare returns the probability that an instance's majority of
// votes traces is compliance (a tie counts one half) when its refusal
// propensity is Beta with mean refuse: the Beta-binomial distribution of
// its refusals.
func (s Scenario) complianceShare(refuse float64, votes int) float64 {
	a, b := refuse*s.Spread, (1-refuse)*s.Spread
	lbeta := func(x, y float64) float64 {
		lx, _ := math.Lgamma(x)
		ly, _ := math.Lgamma(y)
		lxy, _ := math.Lgamma(x + y)
		return lx + ly - lxy
	}
	lchoose := func(n, k int) float64 {
		ln, _ := math.Lgamma(float64(n) + 1)
		lk, _ := math.Lgamma(float64(k) + 1)
		lnk, _ := math.Lgamma(float64(n-k) + 1)
		return ln - lk - lnk
	}
	share := 0.0
	for k := 0; 2*k <= votes; k++ { // k refusals
		p := math.Exp(lchoose(votes, k) + lbeta(float64(k)+a, float64(votes-k)+b) - lbeta(a, b))
		if 2*k == votes {
			p /= 2
		}
		share += p
	}
	return share
}

// UnsafeShare returns the expected share of unsafe (harmful) prompts among
// the complied instances, taking an instance as complied when most of votes
// traces comply (the planted effect is solved for it; the simulated share,
// decided by the policy's own vote, differs slightly, and the report gives
// the realised planted effect).
func (s Scenario) UnsafeShare(votes int) float64 {
	h := s.Harmful * s.complianceShare(s.RefuseHarmful, votes)
	b := (1 - s.Harmful) * s.complianceShare(s.RefuseBenign, votes)
	return h / (h + b)
}

// halvesDifference returns the difference in unsafe share between the lower
// and the upper half (split at the median) of a complied population whose
// unsafe members have certainty N(−delta, 1) and safe members N(0, 1), p of
// them unsafe.
func halvesDifference(p, delta float64) float64 {
	n := distuv.UnitNormal
	// Median m: p Φ(m + δ) + (1 − p) Φ(m) = 1/2, by bisection.
	lo, hi := -20.0, 20.0
	for range 200 {
		m := (lo + hi) / 2
		if p*n.CDF(m+delta)+(1-p)*n.CDF(m) < 0.5 {
			lo = m
		} else {
			hi = m
		}
	}
	m := (lo + hi) / 2
	return 2 * p * (2*n.CDF(m+delta) - 1)
}

// shift returns δ, the certainty shift of harmful prompts that plants
// Effect when an instance's behaviour is the majority of votes traces.
func (s Scenario) shift(votes int) (float64, error) {
	if s.Effect == 0 {
		return 0, nil
	}
	p := s.UnsafeShare(votes)
	most := halvesDifference(p, 40)
	if s.Effect >= most {
		return 0, &setting.Error{Name: "effect", Value: s.Effect,
			Rule: fmt.Sprintf("the largest difference in unsafe rate between the halves of the complied instances is %.3f here (%.1f%% of them are unsafe)", most, 100*p)}
	}
	lo, hi := 0.0, 40.0
	for range 200 {
		d := (lo + hi) / 2
		if halvesDifference(p, d) < s.Effect {
			lo = d
		} else {
			hi = d
		}
	}
	return (lo + hi) / 2, nil
}

// Rules are the stop-rule variants a simulation can evaluate (Variant).
const (
	// RuleDefault is the project's default policy (controller.Default:
	// the head rule, the normal quantile, the mean metric).
	RuleDefault = "default"
	// RulePaper is the paper's method: its stop rule, numpy's percentile
	// and the lowest-group metric for votes and the instance confidence.
	RulePaper = "paper"
	// RulePosition is the position-aware rule with the default's quantile
	// and metric.
	RulePosition = "position"
)

// RuleNames lists the variants.
func RuleNames() []string { return []string{RuleDefault, RulePaper, RulePosition} }

// Variant returns the policy of the named variant built on base (the
// default policy with the simulation's sizes).
func Variant(name string, base controller.Config) (controller.Config, error) {
	c := base
	switch name {
	case RuleDefault:
	case RulePaper:
		c.StopRule, c.Quantile, c.Metric = controller.StopPaper, controller.QuantileLinear, controller.MetricLowestGroup
	case RulePosition:
		c.StopRule = controller.StopPosition
	default:
		return c, fmt.Errorf("rule %q: want %s, %s or %s", name, RuleDefault, RulePaper, RulePosition)
	}
	return c, c.Validate()
}
