package simulate

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/controller"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/refusal"
)

func testScenario(t *testing.T, name string) Scenario {
	t.Helper()
	s, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestEngineEmitsPlantedConfidences checks the scripted engine: every
// token's DeepConf confidence (k = 1 and k = 20) is the planted value,
// the detector reads the planted behaviour, a trace is a function of its
// seed, and a stopped trace ends where it was stopped.
func TestEngineEmitsPlantedConfidences(t *testing.T) {
	sc := testScenario(t, ScenarioBalanced)
	l, _ := GoldSet(sc.Lengths)
	e := &scriptedEngine{s: &sc, lengths: l, texts: newTexts(256), plan: instancePlan{harmful: true, certainty: -1, propensity: 0.5, salt: 9}}
	for _, k := range []int{1, 20} {
		sco, err := confidence.NewScorer(k, confidence.TopK)
		if err != nil {
			t.Fatal(err)
		}
		labels := map[refusal.Label]int{}
		for seed := range uint64(200) {
			var confs []float64
			res, err := e.Sample(context.Background(), engine.Sampling{Seed: seed, MaxTokens: 256, TopLogprobs: k}, func(tok *engine.Token) bool {
				s := sco.Score(confidence.Position{Logprob: tok.Logprob, ID: tok.ID, Top: tok.TopLogprobs})
				if !s.OK || !(s.C >= 0.1) {
					t.Fatalf("token %d: confidence %v", tok.Index, s.C)
				}
				confs = append(confs, s.C)
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Tokens != len(confs) || res.Tokens < 1 || res.Tokens > 256 || (res.Finish == engine.FinishLength) != (res.Tokens == 256) {
				t.Fatalf("seed %d: %+v with %d confidences", seed, res, len(confs))
			}
			v, _ := detector{}.Detect(context.Background(), "", res.Text)
			labels[v.Label]++
			// The same seed gives the same trace.
			var again []float64
			e.Sample(context.Background(), engine.Sampling{Seed: seed, MaxTokens: 256, TopLogprobs: k}, func(tok *engine.Token) bool {
				again = append(again, sco.Score(confidence.Position{Top: tok.TopLogprobs}).C)
				return true
			})
			if !reflect.DeepEqual(confs, again) {
				t.Fatalf("seed %d: two samples differ", seed)
			}
		}
		// Propensity 0.5: both behaviours, nothing unparseable.
		if labels[refusal.Refusal] < 60 || labels[refusal.Compliance] < 60 || len(labels) != 2 {
			t.Errorf("k=%d: labels %v", k, labels)
		}
	}
	res, _ := e.Sample(context.Background(), engine.Sampling{Seed: 3, MaxTokens: 256, TopLogprobs: 1}, func(tok *engine.Token) bool { return tok.Index < 4 })
	if res.Tokens != 5 || res.Finish != engine.FinishCancelled || strings.Count(res.Text, " ")+1 < 2 {
		t.Errorf("stopped trace %+v", res)
	}
}

// TestEffectIsPlanted checks the certainty shift: the halves of a complied
// population with that shift differ by the effect, and the simulated
// experiments show it on the latent certainty.
func TestEffectIsPlanted(t *testing.T) {
	sc := testScenario(t, ScenarioBalanced)
	sc.Effect = 0.15
	d, err := sc.shift(16)
	if err != nil {
		t.Fatal(err)
	}
	if got := halvesDifference(sc.UnsafeShare(16), d); math.Abs(got-0.15) > 1e-9 {
		t.Errorf("planted difference %v", got)
	}
	// The compliance share is a Beta-binomial majority: with one vote it
	// is 1 − the mean refusal rate.
	if got := sc.complianceShare(0.8, 1); math.Abs(got-0.2) > 1e-12 {
		t.Errorf("one vote: %v", got)
	}
	// By hand: p = 0.5 and δ = 2·Φ⁻¹(0.75)·… — with p = 1/2 the median
	// is −δ/2, and the difference is 2Φ(δ/2) − 1.
	if got, want := halvesDifference(0.5, 1), 2*(0.6914624612740131)-1; math.Abs(got-want) > 1e-9 {
		t.Errorf("p = 1/2, δ = 1: %v, want %v", got, want)
	}
	sc.Effect = 0.9 // more than 2 × the unsafe share of the complied instances
	c := Config{Scenario: sc, Policy: DefaultPolicy(), Rules: []string{RuleDefault}, Instances: []int{100}, Experiments: 1, Level: 0.95}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "largest difference") {
		t.Errorf("impossible effect: %v", err)
	}
}

func TestScenarioAndConfigValidation(t *testing.T) {
	if _, err := Preset("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
	bad := []func(*Scenario){
		func(s *Scenario) { s.Harmful = 0 },
		func(s *Scenario) { s.RefuseBenign = 1 },
		func(s *Scenario) { s.Spread = 0 },
		func(s *Scenario) { s.Lengths = "nope" },
		func(s *Scenario) { s.TokenAR = 1 },
		func(s *Scenario) { s.TokenSD = -1 },
		func(s *Scenario) { s.Effect = -0.1 },
		func(s *Scenario) { s.RefusalShift = math.NaN() },
	}
	for i, mod := range bad {
		s := testScenario(t, ScenarioBalanced)
		mod(&s)
		if err := s.Validate(); err == nil {
			t.Errorf("bad scenario %d accepted", i)
		}
	}
	c := Config{Scenario: testScenario(t, ScenarioBalanced), Policy: DefaultPolicy(), Rules: []string{RuleDefault}, Instances: []int{100}, Experiments: 1, Level: 0.95}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for i, mod := range []func(*Config){
		func(c *Config) { c.Rules = []string{"nope"} },
		func(c *Config) { c.Instances = []int{5} },
		func(c *Config) { c.Experiments = 0 },
		func(c *Config) { c.Policy.Policy = controller.PolicyFixed },
		func(c *Config) { c.Policy.Keep = 2 },
		func(c *Config) { c.Level = 1 },
		func(c *Config) { c.Workers = -1 },
	} {
		cc := c
		mod(&cc)
		if err := cc.Validate(); err == nil {
			t.Errorf("bad config %d accepted", i)
		}
	}
}

// TestOnlineRunMatchesReplayOnThePool checks that replaying a policy on
// the pool of complete traces (what the default mode does) decides what
// the policy decides online on the scripted engine (what power mode does).
func TestOnlineRunMatchesReplayOnThePool(t *testing.T) {
	sc := testScenario(t, ScenarioBalanced)
	c := Config{Scenario: sc, Policy: DefaultPolicy(), Rules: []string{RuleDefault, RulePaper, RulePosition}, Instances: []int{10}, Experiments: 1, Level: 0.95}
	s, err := newSimulation(c, c.Rules)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	stopped := 0
	for i := range 60 {
		plan := instancePlan{harmful: i%2 == 0, certainty: rng.NormFloat64(), propensity: rng.Float64(), salt: rng.Uint64()}
		in := benchmark.Instance{ID: "sim_x", Index: i, Prompt: "p", Label: benchmark.Benign}
		eng := &scriptedEngine{s: &s.c.Scenario, lengths: s.lengths, texts: s.texts, plan: plan}
		pool, err := controller.Run(context.Background(), eng, detector{}, s.pool, in)
		if err != nil {
			t.Fatal(err)
		}
		for v, cfg := range s.studies {
			online, err := controller.Run(context.Background(), eng, detector{}, cfg, in)
			if err != nil {
				t.Fatal(err)
			}
			replayed, err := controller.Replay(cfg, in, pool.Traces)
			if err != nil {
				t.Fatal(err)
			}
			a, b := online.Prediction, replayed.Prediction
			if a.Behaviour != b.Behaviour || a.TracesGenerated != b.TracesGenerated || a.TokensGenerated != b.TokensGenerated ||
				a.EarlyStopped != b.EarlyStopped || a.Discarded != b.Discarded || a.Confidence != b.Confidence {
				t.Fatalf("instance %d, rule %s: online %+v\nreplay %+v", i, c.Rules[v], a, b)
			}
			stopped += a.EarlyStopped
		}
	}
	if stopped == 0 {
		t.Error("no trace was stopped: the test does not exercise the stop rules")
	}
}

// TestNullSimulation is a small version of VALIDATION.md's null runs: the
// default rule removes 1 − η of the traces, short and long alike, and its
// vote agrees with a plain majority, while the paper's rule removes more,
// and more of the long traces. (Tolerances are about 3 Monte-Carlo
// standard errors at this size.)
func TestNullSimulation(t *testing.T) {
	c := Config{Scenario: testScenario(t, ScenarioBalanced), Policy: DefaultPolicy(), Rules: []string{RuleDefault, RulePaper},
		Instances: []int{200}, Experiments: 24, Seed: 7, Level: 0.95}
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + text.String())
	def, paper := r.Points[0].Rules[0], r.Points[0].Rules[1]
	k := def.Kills
	if v := float64(k.All.Value); math.Abs(v-0.1) > 0.02 {
		t.Errorf("default kill rate %.3f, want 0.10 ± 0.02", v)
	}
	if d := float64(k.Short.Value - k.Long.Value); math.Abs(d) > 0.04 {
		t.Errorf("default: short %.3f vs long %.3f", float64(k.Short.Value), float64(k.Long.Value))
	}
	if b := float64(def.VoteBias.Value); math.Abs(b) > 0.02 {
		t.Errorf("default vote bias %+.3f", b)
	}
	if v := float64(def.Rejections.Value); v > 0.2 {
		t.Errorf("default type-I error %.3f in %d experiments", v, c.Experiments)
	}
	if v := float64(def.LengthCorrelation.Value); math.Abs(v) > 0.05 {
		t.Errorf("default confidence correlates with length: %.3f", v)
	}
	pk := paper.Kills
	if !(float64(pk.All.Value) > 0.15) || !(float64(pk.Long.Value-pk.Short.Value) > 0.1) || !(float64(paper.LengthCorrelation.Value) < -0.05) {
		t.Errorf("paper rule: kill %.3f, short %.3f, long %.3f, length correlation %.3f; expected the length bias",
			float64(pk.All.Value), float64(pk.Short.Value), float64(pk.Long.Value), float64(paper.LengthCorrelation.Value))
	}
}

// TestSimulationIsReproducible runs the same small simulation with one and
// with three workers: the reports are byte-identical.
func TestSimulationIsReproducible(t *testing.T) {
	c := Config{Scenario: testScenario(t, ScenarioToxicChat), Policy: DefaultPolicy(), Rules: []string{RuleDefault, RulePosition},
		Instances: []int{40, 60}, Experiments: 4, Seed: 11, Level: 0.95, Workers: 1}
	var out [2]bytes.Buffer
	for i, w := range []int{1, 3} {
		c.Workers = w
		r, err := Run(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WriteJSON(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out[0].Bytes(), out[1].Bytes()) {
		t.Error("the report depends on the number of workers")
	}
}

// TestPowerSimulation is a small power-calculator run: a large planted
// effect is detected in most experiments, and the report names the
// smallest size with power ≥ 0.8.
func TestPowerSimulation(t *testing.T) {
	sc := testScenario(t, ScenarioBalanced)
	sc.Effect = 0.25
	calls := 0
	c := Config{Scenario: sc, Policy: DefaultPolicy(), Rules: []string{RuleDefault}, Instances: []int{60, 400}, Experiments: 12,
		Seed: 3, Level: 0.95, Power: true, Progress: func(done, total int) {
			calls++
			if total != 24 || done > total {
				t.Errorf("progress %d/%d", done, total)
			}
		}}
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if calls != 24 {
		t.Errorf("%d progress calls", calls)
	}
	big := r.Points[1].Rules[0]
	if v := float64(big.Rejections.Value); v < 0.75 {
		t.Errorf("power %.3f at 400 instances for a 25-point effect", v)
	}
	if l := float64(r.Points[1].LatentEffect.Value); math.Abs(l-0.25) > 0.06 {
		t.Errorf("latent effect %.3f, planted 0.25", l)
	}
	if big.Kills != nil || big.VoteBias != nil {
		t.Error("power mode reports baselines")
	}
	var text bytes.Buffer
	r.WriteText(&text)
	if !strings.Contains(text.String(), "smallest simulated size with power ≥ 0.8") {
		t.Errorf("report:\n%s", text.String())
	}
}
