package openai

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzSSE feeds arbitrary bytes through the SSE reader and the chunk parser,
// as a stream from a server would go: neither may panic, every parsed
// entry's offsets must lie inside the chunk's buffers, and a parse must not
// depend on what the parser saw before (buffers are reused between events).
//
//	go test -fuzz FuzzSSE -fuzztime 60s ./engine/openai/
func FuzzSSE(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.sse"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("data: " + chatChunk("a", -0.1, -0.1, -2) + "\n\ndata: [DONE]\n\n"))
	f.Add([]byte(`data: {"choices":[{"index":0,"text":"x","logprobs":{"tokens":["x"],"token_logprobs":[-1],"top_logprobs":[{"x":-1,"y":-2}]}}]}` + "\n\n"))
	f.Add([]byte("data: {\"choices\":[{\"logprobs\":{\"content\":[{\"token\":\"\\ud83d\",\"logprob\":NaN,\"top_logprobs\":[]}]}}]}\n\n"))
	f.Fuzz(func(t *testing.T, stream []byte) {
		sr := newSSEReader(bytes.NewReader(stream), 64)
		var p, fresh parser
		for range 1000 {
			data, _, err := sr.next()
			if err != nil {
				return
			}
			data = bytes.Clone(data)
			err = p.parse(data)
			errFresh := fresh.parse(data)
			if (err == nil) != (errFresh == nil) {
				t.Fatalf("parse of %q: %v after earlier events, %v on a fresh parser", data, err, errFresh)
			}
			fresh = parser{}
			if err != nil {
				continue
			}
			c := &p.c
			for _, e := range c.entries {
				if e.textOff < 0 || e.textOff > e.textEnd || e.textEnd > len(c.text) {
					t.Fatalf("entry text [%d:%d] outside %d bytes", e.textOff, e.textEnd, len(c.text))
				}
				if e.top0 < 0 || e.top0 > e.top1 || e.top1 > len(c.tops) || (e.ids && e.top1 > len(c.topIDs)) {
					t.Fatalf("entry tops [%d:%d] outside %d values (%d ids)", e.top0, e.top1, len(c.tops), len(c.topIDs))
				}
			}
		}
	})
}
