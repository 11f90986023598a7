package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/deepconf/deepconf/engine"
)

// benchEntries is the number of token entries per benchmark stream.
const benchEntries = 2000

// benchStream builds a vLLM-style chat stream with one token entry per chunk
// and 20 top logprobs per entry, values printed with Python's repr precision
// (17 significant digits). With ids set, every entry and top entry carries a
// llama.cpp-style id.
func benchStream(n int, ids bool) ([]byte, []string) {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{" the", " I", " can", "'t", " help", " with", " that", ".", " Sorry", ",", " but", "\n\n"}
	var b bytes.Buffer
	var events []string
	lp := func() string {
		return strconv.FormatFloat(-r.Float64()*12, 'g', 17, 64)
	}
	bytesOf := func(s string) string {
		parts := make([]string, len(s))
		for i := range len(s) {
			parts[i] = strconv.Itoa(int(s[i]))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	id := func(v int) string {
		if !ids {
			return ""
		}
		return fmt.Sprintf(`"id":%d,`, v)
	}
	for i := range n {
		w := words[i%len(words)]
		tok, _ := json.Marshal(w)
		var ev strings.Builder
		fmt.Fprintf(&ev, `{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1757000000,"model":"Qwen/Qwen3-8B","choices":[{"index":0,"delta":{"content":%s},"logprobs":{"content":[{%s"token":%s,"logprob":%s,"bytes":%s,"top_logprobs":[`,
			tok, id(1000+i%7), tok, lp(), bytesOf(w))
		for j := range 20 {
			if j > 0 {
				ev.WriteByte(',')
			}
			t := words[(i+j)%len(words)]
			tj, _ := json.Marshal(t)
			fmt.Fprintf(&ev, `{%s"token":%s,"logprob":%s,"bytes":%s}`, id(2000+j), tj, lp(), bytesOf(t))
		}
		ev.WriteString(`]}]},"finish_reason":null}]}`)
		events = append(events, ev.String())
	}
	events = append(events, finishChunk("length"), usageChunk(20, n), "[DONE]")
	for _, ev := range events {
		b.WriteString("data: ")
		b.WriteString(ev)
		b.WriteString("\n\n")
	}
	return b.Bytes(), events
}

// reportRate reports entries per second and ns per entry.
func reportRate(b *testing.B, entries int) {
	b.Helper()
	total := float64(entries) * float64(b.N)
	b.ReportMetric(total/b.Elapsed().Seconds(), "entries/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/total, "ns/entry")
}

// BenchmarkSSEParse measures the production stream path (SSE reader, chunk
// parser, Token hand-over to a no-op TokenFunc) over an in-memory stream.
// Run with -cpu 1 for the one-core figure.
func BenchmarkSSEParse(b *testing.B) {
	for _, ids := range []bool{false, true} {
		name := "vllm-chat-k20"
		if ids {
			name = "llamacpp-ids-k20"
		}
		b.Run(name, func(b *testing.B) {
			data, _ := benchStream(benchEntries, ids)
			e := &Engine{}
			s := &session{e: e}
			ep := &endpoint{display: "bench"}
			lim := limits{connect: time.Hour, firstByte: time.Hour, idle: time.Hour}
			fn := func(t *engine.Token) bool { return len(t.TopLogprobs) == 20 }
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				st := &trace{fn: fn}
				ctx, w := e.watch(context.Background(), ep, "bench", lim, false)
				err := s.readStream(ctx, w, ep, bytes.NewReader(data), st)
				w.stop()
				if err != nil || st.delivered != benchEntries {
					b.Fatalf("err %v, %d entries", err, st.delivered)
				}
			}
			reportRate(b, benchEntries)
		})
	}
}

// BenchmarkHTTPStream measures Session.Sample against a local httptest
// server that writes the same stream, flushing after every event as real
// servers do ("flush-each") or in one write ("bulk"). Server and client
// share the GOMAXPROCS set by -cpu.
func BenchmarkHTTPStream(b *testing.B) {
	data, events := benchStream(benchEntries, false)
	for _, mode := range []string{"flush-each", "bulk"} {
		b.Run(mode, func(b *testing.B) {
			srv := newServer(b, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				if mode == "bulk" {
					w.Write(data)
					return
				}
				writeEvents(w, events...)
			})
			e, err := New(context.Background(), Config{Endpoints: []string{srv.URL}, Model: "m", SkipProbe: true, SkipPrefill: true})
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			sess, _ := e.Open(context.Background(), engine.Prompt{User: "x"})
			sp := engine.Sampling{Temperature: 1, TopP: 1, MaxTokens: benchEntries, TopLogprobs: 20}
			n := 0
			fn := func(t *engine.Token) bool { n++; return true }
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				n = 0
				res, err := sess.Sample(context.Background(), sp, fn)
				if err != nil || n != benchEntries || res.Tokens != benchEntries {
					b.Fatalf("err %v, %d entries", err, n)
				}
			}
			reportRate(b, benchEntries)
		})
	}
}

// BenchmarkSSEParseEncodingJSON is the naive client the package
// documentation compares with: a bufio.Scanner over the data lines and
// encoding/json into minimal structs, over the same in-memory stream (the
// NaN-free case; encoding/json would reject NaN literals).
func BenchmarkSSEParseEncodingJSON(b *testing.B) {
	type top struct {
		Token   string  `json:"token"`
		Logprob float64 `json:"logprob"`
	}
	type chunkJSON struct {
		Choices []struct {
			Delta struct {
				Content string `json:"content"`
			} `json:"delta"`
			Logprobs *struct {
				Content []struct {
					Token       string  `json:"token"`
					Logprob     float64 `json:"logprob"`
					TopLogprobs []top   `json:"top_logprobs"`
				} `json:"content"`
			} `json:"logprobs"`
		} `json:"choices"`
	}
	data, _ := benchStream(benchEntries, false)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		n := 0
		for sc.Scan() {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("data: ")) || bytes.Equal(line[6:], []byte("[DONE]")) {
				continue
			}
			var c chunkJSON
			if err := json.Unmarshal(line[6:], &c); err != nil {
				b.Fatal(err)
			}
			for _, ch := range c.Choices {
				if ch.Logprobs != nil {
					n += len(ch.Logprobs.Content)
				}
			}
		}
		if n != benchEntries {
			b.Fatalf("%d entries", n)
		}
	}
	reportRate(b, benchEntries)
}
