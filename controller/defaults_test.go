package controller

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/deepconf/deepconf/internal/shareddata"
	"github.com/deepconf/deepconf/internal/testmodel"
)

// TestDefaultWindowFitsRefusals measures, with Qwen3's tokenizer, how long
// the human-labelled refusals and compliances of the two gold sets are, and
// checks the default window against them: a window the response never fills
// makes the early stop impossible and the lowest-group confidence a plain
// mean (pitfall P6); a window much wider than a tenth of a typical response
// reacts late (the paper's 2,048 is about 13% of its 15k-token traces). The
// default must be filled by at least 75% of the refusals of each set and be
// at most 20% of their median length. Run with -v to see the quantiles quoted
// in the package documentation.
func TestDefaultWindowFitsRefusals(t *testing.T) {
	data := shareddata.Dir(t)
	model := testmodel.Cached(t, testmodel.Options{Shape: testmodel.ShapeTinyQwen3Vocab, Quant: testmodel.QuantQ8_0})
	e, err := llamacpp.New(context.Background(), llamacpp.Config{Model: model, Threads: 1, Parallel: 1, Prompts: 1, Log: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	w := Default(PolicyDeepConf).Window
	for _, gold := range []struct{ bench, dir string }{
		{"wildguardmix", filepath.Join(data, "wildguardmix", "wildguardtest.parquet")},
		{"xstest-completions", filepath.Join(data, "xstest", "model_completions")},
	} {
		ins, err := benchmark.Load(context.Background(), gold.bench, benchmark.Options{Data: gold.dir})
		if err != nil {
			t.Fatal(err)
		}
		var ref, comp []float64
		for _, in := range ins {
			if in.Response == "" || in.RefusalLabel == benchmark.NoRefusalLabel {
				continue
			}
			n := float64(len(e.Tokenize(in.Response)))
			if in.RefusalLabel.IsRefusal() {
				ref = append(ref, n)
			} else {
				comp = append(comp, n)
			}
		}
		slices.Sort(ref)
		slices.Sort(comp)
		q := func(x []float64, p float64) float64 { return confidence.Percentile(x, p) }
		t.Logf("%s: refusals n=%d tokens p10=%.0f p25=%.0f median=%.0f p90=%.0f; compliances n=%d p10=%.0f median=%.0f p90=%.0f",
			gold.bench, len(ref), q(ref, 10), q(ref, 25), q(ref, 50), q(ref, 90), len(comp), q(comp, 10), q(comp, 50), q(comp, 90))
		if p25 := q(ref, 25); float64(w) > p25 {
			t.Errorf("%s: default window %d exceeds the 25th percentile of refusal lengths (%.0f tokens)", gold.bench, w, p25)
		}
		if med := q(ref, 50); float64(w) > 0.2*med {
			t.Errorf("%s: default window %d exceeds 20%% of the median refusal length (%.0f tokens)", gold.bench, w, med)
		}
	}
}
