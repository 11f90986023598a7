package sweep

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/record"
)

// TestParseRoundTrip: every float32 that encoding/json writes (random
// values over many magnitudes, subnormal and extreme ones) is parsed back
// bit for bit, and the other fields decode as encoding/json decodes them.
func TestParseRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	confs := []float32{0, 1, -1, 14.25, math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-7, -3.4e38, 1.0000001}
	for range 2000 {
		confs = append(confs, float32(rng.NormFloat64()*math.Pow(10, float64(rng.IntN(20)-10))))
	}
	lps := make([]float32, len(confs))
	ok := make([]bool, len(confs))
	for i := range lps {
		lps[i] = -float32(rng.ExpFloat64())
		ok[i] = i%7 != 0
	}
	want := record.Trace{
		InstanceID: "x_test_1", Index: 3, Seed: math.MaxUint64 - 5, Phase: record.PhaseAdaptive,
		Text: "He said \"token_confidences\": [1, 2] \\ and \"text\": no\n", Tokens: len(confs), Finish: record.FinishEarlyStop,
		Used: true, Label: "refusal", Rule: "open:apology", Confidence: confidence.TraceStats{N: 4, Mean: 1.5},
		SeedConfidence: 0.25, Counts: confidence.Counts{Tokens: 4}, TokenConfidences: confs, TokenOK: ok, TokenLogprobs: lps,
	}
	line, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name            string
		texts, logprobs bool
	}{{"all", true, true}, {"no text", false, true}, {"no logprobs", true, false}, {"arrays only", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			p := lineParser{texts: tc.texts, logprobs: tc.logprobs}
			got, err := p.parse(append([]byte(nil), line...))
			if err != nil {
				t.Fatal(err)
			}
			w := want
			if !tc.texts {
				w.Text = ""
			}
			if !tc.logprobs {
				w.TokenLogprobs = nil
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("got %+v", got)
			}
		})
	}
	// Without token_ok (omitted when every token had data) and with
	// empty arrays.
	short := record.Trace{InstanceID: "y", TokenConfidences: []float32{}, TokenLogprobs: []float32{}, Text: "t"}
	line, _ = json.Marshal(short)
	p := lineParser{texts: true, logprobs: true}
	got, err := p.parse(line)
	if err != nil || got.TokenOK != nil || len(got.TokenConfidences) != 0 || got.Text != "t" {
		t.Errorf("short trace: %+v, %v", got, err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`{"instance_id":"a","token_confidences":[1,x],"token_logprobs":[1,2]}`, `field token_confidences: element 1: "x" is not a float32 number`},
		{`{"instance_id":"a","token_confidences":[1,2],"token_logprobs":[1]}`, "field token_logprobs: 1 log-probabilities for 2 token confidences"},
		{`{"instance_id":"a","token_confidences":[1,2],"token_ok":[true],"token_logprobs":[1,2]}`, "field token_ok: 1 flags for 2"},
		{`{"instance_id":"a","token_confidences":[1,2],"token_ok":[true,1],"token_logprobs":[1,2]}`, `field token_ok: element 1: "1" is not a boolean`},
		{`{"instance_id":"a","token_confidences":"1,2"}`, "field token_confidences: want an array"},
		{`{"instance_id":"a","token_confidences":[1,2`, "field token_confidences: malformed or unterminated"},
		{`{"instance_id":"a","index":"3","token_confidences":[],"token_logprobs":[]}`, "field index: want int"},
		{`{"index":3,"token_confidences":[],"token_logprobs":[]}`, "field instance_id: missing or empty"},
		{`{"instance_id":"a","token_confidences":[1e999],"token_logprobs":[1]}`, "is not a float32 number"},
	} {
		p := lineParser{texts: true, logprobs: true}
		_, err := p.parse([]byte(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.line, err, tc.want)
		}
	}
}

func TestNullSpans(t *testing.T) {
	b := []byte(`{"a":[1,2,3],"b":"xyz","c":[4]}`)
	// The short [4] stays: the rewrite must not grow the line.
	got := nullSpans(b, []span{{27, 30}, {17, 22}, {5, 12}})
	if string(got) != `{"a":null,"b":null,"c":[4]}` {
		t.Errorf("got %s", got)
	}
}
