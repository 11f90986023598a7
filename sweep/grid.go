package sweep

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/controller"
)

// Setting is one point of a sweep: a policy configuration to replay, the
// labels to replay it with, and the confidence split of its scoring.
type Setting struct {
	// Config is the complete policy configuration.
	Config controller.Config
	// Detector is StoredLabels (or "") for the stored labels, else a
	// rule-based detector spec whose labels of the stored texts are used.
	Detector string
	// Split divides the replayed instances into confident and uncertain
	// for the hypothesis columns (analysis.Split; zero value: median).
	Split analysis.Split
	// Err is set when the combination is not a valid configuration (for
	// example a warm-up larger than the budget); such a setting is
	// reported, not replayed.
	Err error
}

// Grid lists the values of each swept dimension; a Setting is made for
// every combination (the cartesian product, in field order, the last field
// varying fastest). An empty list keeps the base configuration's value.
// Dimensions that do not apply to a policy (the window of the prototype policy,
// for example) leave it unchanged, and identical settings are listed once.
type Grid struct {
	// Policy is a controller policy name.
	Policy []string
	// Percentile is the threshold percentile: for deepconf (and the top
	// filter of offline) η = 1 − p/100, so p = 10 is DeepConf-high; for the
	// prototype policy the percentile of its warm-up confidences. Percentile
	// and Eta are alternatives.
	Percentile []float64
	// Eta is η (controller.Config.Keep).
	Eta []float64
	// Window is the group size W. Unless MinTokens is swept too, the
	// minimum tokens follow the window when the base configuration had
	// them equal, and are raised to the window otherwise.
	Window []int
	// Warmup is the warm-up size (deepconf Warmup, prototype PrototypeMinTraces).
	Warmup []int
	// Budget is the most traces (deepconf Budget, prototype PrototypeMaxTraces,
	// offline and fixed Traces).
	Budget []int
	// Tau is the consensus level τ.
	Tau []float64
	// Metric is the trace confidence metric.
	Metric []string
	// MinTokens is the number of tokens before an early stop.
	MinTokens []int
	// MinVoters is the number of voters before the consensus stop. Unless
	// swept, it is capped at the budget, as deepconf run does.
	MinVoters []int
	// EarlyStop turns the early stops on or off.
	EarlyStop []bool
	// Detector lists label sources (StoredLabels or detector specs).
	Detector []string
	// Split lists confidence splits.
	Split []analysis.Split
}

// Settings returns the settings of the grid over base (the run's own
// configuration). It is an error to give both Percentile and Eta, or a
// value outside its range; combinations that do not validate are returned
// with Err set.
func (g Grid) Settings(base controller.Config) ([]Setting, error) {
	if len(g.Percentile) > 0 && len(g.Eta) > 0 {
		return nil, fmt.Errorf("percentile and η both set the threshold (η = 1 − percentile/100): give one of them")
	}
	for _, p := range g.Percentile {
		if !(p >= 0 && p <= 100) {
			return nil, fmt.Errorf("percentile %g: must be in [0, 100]", p)
		}
	}
	for _, e := range g.Eta {
		if !(e > 0 && e <= 1) {
			return nil, fmt.Errorf("η %g: must be in (0, 1]", e)
		}
	}
	policies := make([]string, len(g.Policy))
	for i, p := range g.Policy {
		v, err := controller.ParsePolicy(p)
		if err != nil {
			return nil, err
		}
		policies[i] = v
	}
	type dim struct {
		n     int
		apply func(c *Setting, i int)
	}
	var dims []dim
	add := func(n int, apply func(c *Setting, i int)) {
		if n > 0 {
			dims = append(dims, dim{n, apply})
		}
	}
	add(len(policies), func(s *Setting, i int) { s.Config.Policy = policies[i] })
	add(len(g.Percentile), func(s *Setting, i int) {
		if s.Config.Policy == controller.PolicyPrototype {
			s.Config.PrototypePercentile = g.Percentile[i]
			return
		}
		if g.Percentile[i] >= 100 {
			s.Err = fmt.Errorf("percentile %g: the %s policy needs η = 1 − p/100 > 0 (p < 100)", g.Percentile[i], s.Config.Policy)
			return
		}
		s.Config.Keep = 1 - g.Percentile[i]/100
	})
	add(len(g.Eta), func(s *Setting, i int) { s.Config.Keep = g.Eta[i] })
	add(len(g.Window), func(s *Setting, i int) { s.Config.Window = g.Window[i] })
	add(len(g.Warmup), func(s *Setting, i int) {
		if s.Config.Policy == controller.PolicyPrototype {
			s.Config.PrototypeMinTraces = g.Warmup[i]
		} else {
			s.Config.Warmup = g.Warmup[i]
		}
	})
	add(len(g.Budget), func(s *Setting, i int) {
		switch s.Config.Policy {
		case controller.PolicyPrototype:
			s.Config.PrototypeMaxTraces = g.Budget[i]
		case controller.PolicyOffline, controller.PolicyFixed:
			s.Config.Traces = g.Budget[i]
		default:
			s.Config.Budget = g.Budget[i]
		}
	})
	add(len(g.Tau), func(s *Setting, i int) { s.Config.Tau = g.Tau[i] })
	add(len(g.Metric), func(s *Setting, i int) { s.Config.Metric = g.Metric[i] })
	add(len(g.MinTokens), func(s *Setting, i int) { s.Config.MinTokens = g.MinTokens[i] })
	add(len(g.MinVoters), func(s *Setting, i int) { s.Config.MinVoters = g.MinVoters[i] })
	add(len(g.EarlyStop), func(s *Setting, i int) { s.Config.EarlyStop = g.EarlyStop[i] })
	add(len(g.Detector), func(s *Setting, i int) { s.Detector = g.Detector[i] })
	add(len(g.Split), func(s *Setting, i int) { s.Split = g.Split[i] })

	var out []Setting
	idx := make([]int, len(dims))
	for {
		s := Setting{Config: base, Detector: StoredLabels}
		for d, dm := range dims {
			dm.apply(&s, idx[d])
		}
		if len(g.MinTokens) == 0 {
			if base.MinTokens == base.Window {
				s.Config.MinTokens = s.Config.Window
			} else {
				s.Config.MinTokens = max(base.MinTokens, s.Config.Window)
			}
		}
		if len(g.MinVoters) == 0 && s.Config.Policy == controller.PolicyDeepConf {
			s.Config.MinVoters = min(base.MinVoters, s.Config.Budget)
		}
		if s.Detector == "" {
			s.Detector = StoredLabels
		}
		if s.Split.Method == "" {
			s.Split.Method = analysis.SplitMedian
		}
		if s.Err == nil {
			s.Err = s.Config.Validate()
		}
		if !containsSetting(out, s) {
			out = append(out, s)
		}
		// Next combination (odometer, last dimension fastest).
		d := len(dims) - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < dims[d].n {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return out, nil
		}
	}
}

func containsSetting(ss []Setting, s Setting) bool {
	for _, x := range ss {
		if x.Config == s.Config && x.Detector == s.Detector && x.Split == s.Split && (x.Err == nil) == (s.Err == nil) {
			return true
		}
	}
	return false
}

// Percentile returns the threshold percentile of the setting's policy: the
// prototype policy's percentile, 100·(1 − η) for the others.
func (s Setting) Percentile() float64 {
	if s.Config.Policy == controller.PolicyPrototype {
		return s.Config.PrototypePercentile
	}
	return 100 * (1 - s.Config.Keep)
}

// Warmup returns the warm-up size of the setting's policy (0 when it has
// none).
func (s Setting) Warmup() int {
	switch s.Config.Policy {
	case controller.PolicyPrototype:
		return s.Config.PrototypeMinTraces
	case controller.PolicyDeepConf:
		return s.Config.Warmup
	}
	return 0
}

// Budget returns the most traces the setting's policy starts.
func (s Setting) Budget() int {
	switch s.Config.Policy {
	case controller.PolicyPrototype:
		return s.Config.PrototypeMaxTraces
	case controller.PolicyDeepConf:
		return s.Config.Budget
	case controller.PolicySingle:
		return 1
	}
	return s.Config.Traces
}

// column is one descriptive column of a settings table.
type column struct {
	name  string
	value func(s Setting) string
	// always columns are shown even when every setting has the same value.
	always bool
}

func fmtFloat(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

// columns returns the descriptive columns of a settings table, in order.
func columns() []column {
	return []column{
		{"policy", func(s Setting) string {
			if s.Config.Policy == controller.PolicyOffline {
				return s.Config.Policy + "/" + s.Config.Aggregate
			}
			return s.Config.Policy
		}, true},
		{"pctl", func(s Setting) string {
			switch s.Config.Policy {
			case controller.PolicyDeepConf, controller.PolicyPrototype:
				return fmtFloat(s.Percentile())
			case controller.PolicyOffline:
				if s.Config.Aggregate == controller.AggTop {
					return fmtFloat(s.Percentile())
				}
			}
			return "–"
		}, true},
		{"W", func(s Setting) string { return strconv.Itoa(s.Config.Window) }, true},
		{"warmup", func(s Setting) string {
			if w := s.Warmup(); w > 0 {
				return strconv.Itoa(w)
			}
			return "–"
		}, true},
		{"budget", func(s Setting) string { return strconv.Itoa(s.Budget()) }, true},
		{"τ", func(s Setting) string { return fmtFloat(s.Config.Tau) }, false},
		{"metric", func(s Setting) string { return s.Config.Metric }, false},
		{"min tokens", func(s Setting) string { return strconv.Itoa(s.Config.MinTokens) }, false},
		{"min voters", func(s Setting) string { return strconv.Itoa(s.Config.MinVoters) }, false},
		{"early stop", func(s Setting) string { return map[bool]string{true: "on", false: "off"}[s.Config.EarlyStop] }, false},
		{"detector", func(s Setting) string { return s.Detector }, false},
		{"split", func(s Setting) string { return s.Split.String() }, false},
	}
}

// settingColumns returns the columns to show for settings: the always
// columns and those whose value differs between settings.
func settingColumns(settings []Setting) []column {
	var out []column
	for _, c := range columns() {
		show := c.always
		for _, s := range settings[min(1, len(settings)):] {
			if c.value(s) != c.value(settings[0]) {
				show = true
				break
			}
		}
		if show {
			out = append(out, c)
		}
	}
	return out
}

// String describes the setting in one line (every column).
func (s Setting) String() string {
	var parts []string
	for _, c := range columns() {
		parts = append(parts, c.name+"="+c.value(s))
	}
	return strings.Join(parts, " ")
}
