package openai

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

// TestPitfallP5EntriesNotChunks: a streamed chunk may carry no log-probability
// entry (the role-only first chunk, a finish chunk) or several (speculative
// decoding, detokenizer buffering); every entry is one token
// (docs/method.md, pitfall P5). Token indices, texts and counts follow the entries, not the chunks.
func TestPitfallP5EntriesNotChunks(t *testing.T) {
	role := `{"choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`
	three := `{"choices":[{"index":0,"delta":{"content":"abc"},"logprobs":{"content":[` +
		`{"token":"a","logprob":-0.1,"top_logprobs":[{"token":"a","logprob":-0.1},{"token":"x","logprob":-2.5}]},` +
		`{"token":"b","logprob":-0.2,"top_logprobs":[{"token":"b","logprob":-0.2},{"token":"y","logprob":-1.5}]},` +
		`{"token":"c","logprob":-0.3,"top_logprobs":[{"token":"c","logprob":-0.3},{"token":"z","logprob":-1.0}]}` +
		`]},"finish_reason":null}]}`
	empty := `{"choices":[{"index":0,"delta":{"content":""},"logprobs":{"content":[]},"finish_reason":null}]}`
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeEvents(w, role, three, empty, chatChunk("d", -0.4, -0.4, -0.9), finishChunk("stop"), usageChunk(10, 4), "[DONE]")
	})
	e := newTestEngine(t, Config{Endpoints: []string{srv.URL}, SkipProbe: true, SkipPrefill: true})
	s := openSession(t, e, engine.Prompt{User: "x"})
	var c collector
	p := testSampling
	p.TopLogprobs = 2
	res, err := s.Sample(context.Background(), p, c.fn)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	var idx []int
	var lps []float64
	for _, tok := range c.toks {
		texts, idx, lps = append(texts, tok.Text), append(idx, tok.Index), append(lps, tok.Logprob)
	}
	if !slices.Equal(texts, []string{"a", "b", "c", "d"}) || !slices.Equal(idx, []int{0, 1, 2, 3}) ||
		!slices.Equal(lps, []float64{-0.1, -0.2, -0.3, -0.4}) {
		t.Errorf("tokens %q, indices %v, logprobs %v; want a b c d, 0..3, −0.1…−0.4", texts, idx, lps)
	}
	if got := c.toks[1].TopLogprobs; !slices.Equal(got, []float64{-0.2, -1.5}) {
		t.Errorf("second token's top logprobs %v, want [-0.2 -1.5]", got)
	}
	if res.Tokens != 4 || res.Text != "abcd" {
		t.Errorf("result %+v, want 4 tokens, text abcd", res)
	}
}
