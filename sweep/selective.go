package sweep

import (
	"math"

	"github.com/deepconf/deepconf/analysis"
	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/record"
	"github.com/deepconf/deepconf/stats"
)

// Selective is selective prediction by a setting's replayed DeepConf
// instance confidence (docs/calibration.md): the area under the
// risk–coverage curve (AURC, lower is better) and its excess over the
// best order (E-AURC), for errors among the scored replayed instances and
// for unsafe compliance (harmful prompts) among the complied ones. NaN
// when undefined (no such instance, or no finite confidence).
type Selective struct {
	AURCError, EAURCError   analysis.Float
	AURCUnsafe, EAURCUnsafe analysis.Float
}

// noSelective is the Selective of no instance.
func noSelective() Selective {
	nan := analysis.NaN()
	return Selective{AURCError: nan, EAURCError: nan, AURCUnsafe: nan, EAURCUnsafe: nan}
}

// selectiveOf ranks the instances of a, scored from preds, by their
// replayed confidence (record.Prediction.Confidence; instances without a
// finite one are left out) and returns the areas of both risks.
func selectiveOf(a *analysis.Result, preds []record.Prediction) (Selective, error) {
	out := noSelective()
	var score, cscore []float64
	var fail, harmful []bool
	for _, in := range a.Instances {
		c := preds[in.Line].Confidence
		if !in.Scored || math.IsNaN(c) || math.IsInf(c, 0) {
			continue
		}
		score, fail = append(score, c), append(fail, !in.Correct)
		if in.Behaviour == record.Compliance {
			cscore, harmful = append(cscore, c), append(harmful, in.Gold == string(benchmark.Harmful))
		}
	}
	areas := func(x []float64, f []bool, aurc, excess *analysis.Float) error {
		if len(x) == 0 {
			return nil
		}
		s, err := stats.NewSelective(x, f)
		if err != nil {
			return err
		}
		st, err := s.Evaluate(analysis.DefaultTargetRisk, nil)
		if err != nil {
			return err
		}
		*aurc, *excess = analysis.Float(st.AURC), analysis.Float(st.Excess)
		return nil
	}
	if err := areas(score, fail, &out.AURCError, &out.EAURCError); err != nil {
		return out, err
	}
	err := areas(cscore, harmful, &out.AURCUnsafe, &out.EAURCUnsafe)
	return out, err
}
