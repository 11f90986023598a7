package simulate

import (
	"fmt"
	"math"
	"strings"

	"github.com/deepconf/deepconf/confidence"
)

// LengthQuantiles is the number of quantiles a length distribution is
// stored with: the 0th, 2.5th, …, 100th percentiles.
const LengthQuantiles = 41

// Lengths holds the response-length distributions of one gold set: for
// each prompt label (harmful, benign) and behaviour (refusal, compliance),
// the LengthQuantiles quantiles of the human-labelled responses' length in
// Qwen3 tokens. A length is drawn by inverse-CDF sampling with linear
// interpolation between the quantiles.
type Lengths struct {
	// Name is the gold set (GoldSets).
	Name string
	// Source says where the lengths come from.
	Source string
	// N counts the responses behind each distribution, keyed like Q.
	N map[string]int
	// Q maps "harmful/refusal", "harmful/compliance", "benign/refusal"
	// and "benign/compliance" to their quantiles.
	Q map[string][LengthQuantiles]float64
}

// cellKey names a distribution of Lengths.
func cellKey(harmful, refusal bool) string {
	h, b := "benign", "compliance"
	if harmful {
		h = "harmful"
	}
	if refusal {
		b = "refusal"
	}
	return h + "/" + b
}

// Draw returns a response length (≥ 1 token) for a prompt of the given
// label and behaviour, from the uniform variate u in [0, 1).
func (l *Lengths) Draw(harmful, refusal bool, u float64) int {
	q := l.Q[cellKey(harmful, refusal)]
	r := u * (LengthQuantiles - 1)
	i := int(r)
	if i >= LengthQuantiles-1 {
		return max(1, int(math.Round(q[LengthQuantiles-1])))
	}
	v := q[i] + (r-float64(i))*(q[i+1]-q[i])
	return max(1, int(math.Round(v)))
}

// Median returns the median length of a distribution.
func (l *Lengths) Median(harmful, refusal bool) float64 {
	return l.Q[cellKey(harmful, refusal)][(LengthQuantiles-1)/2]
}

// Quantiles computes the LengthQuantiles quantiles of lengths (numpy's
// linear percentile), the form Lengths stores. It is how the shipped table
// was derived (see lengths_table.go).
func Quantiles(lengths []float64) ([LengthQuantiles]float64, error) {
	var q [LengthQuantiles]float64
	if len(lengths) == 0 {
		return q, fmt.Errorf("simulate: no lengths")
	}
	for k := range LengthQuantiles {
		q[k] = confidence.Percentile(lengths, 100*float64(k)/(LengthQuantiles-1))
	}
	return q, nil
}

// GoldSets lists the gold sets whose length distributions ship with the
// package, in the order of GoldSetNames.
func GoldSets() []*Lengths {
	return []*Lengths{&wildGuardTestLengths, &xsTestLengths}
}

// GoldSetNames returns the names of GoldSets.
func GoldSetNames() []string {
	var n []string
	for _, l := range GoldSets() {
		n = append(n, l.Name)
	}
	return n
}

// GoldSet returns the gold set named name.
func GoldSet(name string) (*Lengths, error) {
	for _, l := range GoldSets() {
		if l.Name == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("length distribution %q: want %s", name, strings.Join(GoldSetNames(), " or "))
}
