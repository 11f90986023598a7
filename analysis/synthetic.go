package analysis

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// SyntheticRun describes a generated run directory for benchmarks: the
// ToxicChat-sized run of the performance targets (BENCHMARKS.md) is 5,083
// instances × 10 traces × 256 tokens.
type SyntheticRun struct {
	Instances, Traces, Tokens int
	// TraceSeed returns the stored seed of trace k of an instance; nil
	// stores i·Traces + k (instance i). A run meant to be replayed stores
	// the seeds its policy derives (controller.TraceSeed).
	TraceSeed func(instanceID string, k int) uint64
	// Policy is run.json's config.policy (the JSON of a
	// controller.Config); nil writes {"policy": "deepconf"}.
	Policy json.RawMessage
}

// WriteSyntheticRun writes a synthetic run into the existing directory dir:
// 7% harmful prompts (ToxicChat's share), traces refusing with probability
// 0.6 on harmful and 0.05 on benign prompts, DeepConf token confidences
// around 14, about 1,000 characters of text per trace, every trace complete
// (finish "length") and voting. The content is a fixed function of the
// options (a seeded generator), so benchmarks can cache it.
func WriteSyntheticRun(dir string, o SyntheticRun) error {
	instances, traces, tokens := o.Instances, o.Traces, o.Tokens
	if instances < 1 || traces < 1 || tokens < 1 {
		return fmt.Errorf("synthetic run: %d instances × %d traces × %d tokens: each must be ≥ 1", instances, traces, tokens)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pf, err := os.Create(filepath.Join(dir, record.PredictionsFile))
	if err != nil {
		return err
	}
	defer pf.Close()
	tf, err := os.Create(filepath.Join(dir, record.TracesFile))
	if err != nil {
		return err
	}
	defer tf.Close()
	pw, tw := bufio.NewWriterSize(pf, 1<<20), bufio.NewWriterSize(tf, 1<<20)
	penc, tenc := json.NewEncoder(pw), json.NewEncoder(tw)
	words := strings.Fields("the a model response can cannot help with that here is how to make some information about safety policy request sorry I")
	text := func() string {
		var sb strings.Builder
		for sb.Len() < 1000 {
			sb.WriteString(words[rng.IntN(len(words))])
			sb.WriteByte(' ')
		}
		return sb.String()
	}
	policy := o.Policy
	if policy == nil {
		policy = json.RawMessage(`{"policy":"deepconf"}`)
	}
	// A finished run of every instance (fixed times: the same options give
	// the same bytes).
	finished := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	run := record.Run{Tool: "deepconf", Version: "bench", Config: record.RunConfig{MaxTraces: traces, Policy: policy},
		Instances: instances, Started: finished, Updated: finished, Finished: &finished}
	if b, err := json.Marshal(run); err != nil {
		return err
	} else if err := os.WriteFile(filepath.Join(dir, record.RunFile), b, 0o644); err != nil {
		return err
	}
	tc := make([]float32, tokens)
	lp := make([]float32, tokens)
	for i := range instances {
		id := fmt.Sprintf("toxicchat_test_%d", i)
		harmful := rng.Float64() < 0.0712
		pRefuse := 0.05
		if harmful {
			pRefuse = 0.6
		}
		p := record.Prediction{
			InstanceID: id, Index: i, Prompt: "prompt " + id, Category: "toxic", GoldLabel: "benign", GroundTruth: "safe",
			Policy: "deepconf", Votes: map[string]float64{}, Stop: "consensus", TracesGenerated: traces,
		}
		if harmful {
			p.GoldLabel, p.GroundTruth = "harmful", "unsafe"
		}
		base := 14 + 2*rng.NormFloat64()
		refusals := 0.0
		for k := range traces {
			for j := range tokens {
				tc[j] = float32(base + rng.NormFloat64())
				lp[j] = float32(-rng.ExpFloat64() * 0.5)
			}
			st, err := confidence.Summarize(tc, confidence.StatsOptions{Window: 32, Tail: 64, BottomFraction: 0.1})
			if err != nil {
				return err
			}
			label := record.Compliance
			if rng.Float64() < pRefuse {
				label = record.Refusal
				refusals += st.LowestGroup
			}
			txt := text()
			seed := uint64(i*traces + k)
			if o.TraceSeed != nil {
				seed = o.TraceSeed(id, k)
			}
			t := record.Trace{
				InstanceID: id, Index: k, Seed: seed, Phase: record.PhaseFixed, Text: txt, Tokens: tokens,
				Finish: record.FinishLength, Used: true, Label: label, Rule: "bench", Confidence: st, PrototypeConfidence: 0.5,
				ConfidenceOptions: &record.StatsOptions{Window: 32, Tail: 64, BottomFraction: 0.1},
				Counts:            confidence.Counts{Tokens: tokens, Scored: tokens, MinKEff: 20},
				TokenConfidences:  tc, TokenLogprobs: lp,
			}
			if err := tenc.Encode(&t); err != nil {
				return err
			}
			p.Traces = append(p.Traces, txt)
			p.Confidences = append(p.Confidences, 0.5)
			p.Refused = append(p.Refused, label == record.Refusal)
			p.TokensPerTrace = append(p.TokensPerTrace, tokens)
			p.TraceConfidences = append(p.TraceConfidences, st.LowestGroup)
			p.Confidence += st.LowestGroup / float64(traces)
		}
		p.NumTracesUsed, p.TotalTokens, p.TokensGenerated = traces, traces*tokens, traces*tokens
		p.AvgTokensPerTrace, p.AvgConfidence = float64(tokens), 0.5
		total := p.Confidence * float64(traces)
		p.Behaviour, p.Beta = record.Compliance, (total-refusals)/total
		if refusals > total/2 {
			p.Behaviour, p.Beta = record.Refusal, refusals/total
		}
		for _, r := range p.Refused {
			if r {
				p.RefusalRate += 1 / float64(traces)
			}
		}
		p.FinalPrediction = "safe"
		p.ConfidenceCategory = PrototypeCategory(p.RefusalRate, p.AvgConfidence)
		if err := penc.Encode(&p); err != nil {
			return err
		}
	}
	if err := pw.Flush(); err != nil {
		return err
	}
	return tw.Flush()
}
