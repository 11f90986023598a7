package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/record"
)

// BenchmarkServeVsRun measures the aggregate generation throughput of
// deepconf serve under 64 concurrent clients against deepconf run's on the
// same instances, model and flags (BENCHMARKS.md, "Serving"):
//
//	DEEPCONF_BENCH_INSTANCES=256 go test -run XXX -bench ServeVsRun -benchtime 1x ./cmd/deepconf
//
// run's time is from its start to its last instance written (run.json's
// started and updated); serve's from the first request to the last answer.
// Both sample the synthetic benchmark's first N instances (default 256) with
// the same instance ids, seed and flags (--threads 1 for both: more llama.cpp
// threads than free cores make every decode wait on descheduled threads), so
// they should generate the same traces; the benchmark says when the token
// counts differ.
func BenchmarkServeVsRun(b *testing.B) {
	n := 256
	if s := os.Getenv("DEEPCONF_BENCH_INSTANCES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("DEEPCONF_BENCH_INSTANCES=%q: want a positive integer", s)
		}
		n = v
	}
	bin := buildDeepconfB(b)
	ins := benchmark.Synthetic(n)
	for range b.N {
		// deepconf run.
		out := filepath.Join(b.TempDir(), "run")
		cmd := exec.Command(bin, "run", "--threads", "1", "--model", "test:tiny", "--benchmark", "synthetic", "--num-instances", strconv.Itoa(n), "--no-analyze", "--output-dir", out)
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("deepconf run: %v\n%s", err, o)
		}
		var run record.Run
		rb, err := os.ReadFile(filepath.Join(out, record.RunFile))
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(rb, &run); err != nil {
			b.Fatal(err)
		}
		runTime := run.Updated.Sub(run.Started)
		runTokens := 0
		runPer := map[string]int{}
		raw, err := os.ReadFile(filepath.Join(out, record.PredictionsFile))
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
			var p record.Prediction
			if err := json.Unmarshal(line, &p); err != nil {
				b.Fatal(err)
			}
			runTokens += p.TokensGenerated
			runPer[p.InstanceID] = p.TokensGenerated
		}

		// deepconf serve with 64 clients.
		s := startServe(b, bin, "--model", "test:tiny")
		const clients = 64
		var next, tokens, refused atomic.Int64
		servePer := make([]int, n)
		var wg sync.WaitGroup
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
		start := time.Now()
		for range clients {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					body, _ := json.Marshal(map[string]any{"model": "test:tiny", "messages": []map[string]string{{"role": "user", "content": ins[i].Prompt}},
						"deepconf": map[string]any{"instance_id": ins[i].ID}})
					for {
						resp, err := hc.Post(s.url+"/v1/chat/completions", "application/json", bytes.NewReader(body))
						if err != nil {
							b.Error(err)
							return
						}
						var c struct {
							Usage struct {
								CompletionTokens int `json:"completion_tokens"`
							} `json:"usage"`
						}
						json.NewDecoder(resp.Body).Decode(&c)
						resp.Body.Close()
						if resp.StatusCode == http.StatusTooManyRequests {
							refused.Add(1)
							ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
							time.Sleep(time.Duration(ra) * time.Second)
							continue
						}
						if resp.StatusCode != http.StatusOK {
							b.Errorf("status %d", resp.StatusCode)
							return
						}
						tokens.Add(int64(c.Usage.CompletionTokens))
						servePer[i] = c.Usage.CompletionTokens
						break
					}
				}
			})
		}
		wg.Wait()
		serveTime := time.Since(start)
		s.cmd.Process.Kill()
		<-s.done
		if int(tokens.Load()) != runTokens {
			// The same instances, seed and flags: a difference means
			// that traces depend on what else shares their decode steps.
			var differ []string
			for i, in := range ins {
				if servePer[i] != runPer[in.ID] {
					differ = append(differ, fmt.Sprintf("%s (%d vs %d)", in.ID, servePer[i], runPer[in.ID]))
				}
			}
			b.Logf("NOTE: serve generated %d tokens, run %d for the same instances; %d instances differ: %v",
				tokens.Load(), runTokens, len(differ), differ[:min(len(differ), 5)])
		}
		runRate := float64(runTokens) / runTime.Seconds()
		serveRate := float64(tokens.Load()) / serveTime.Seconds()
		b.ReportMetric(runRate, "run-tok/s")
		b.ReportMetric(serveRate, "serve-tok/s")
		b.ReportMetric(serveRate/runRate, "serve/run")
		b.ReportMetric(float64(refused.Load()), "429s")
		b.Logf("%d instances, %d tokens: run %.1f s (%.0f tok/s), serve with %d clients %.1f s (%.0f tok/s, %d 429s), ratio %.2f",
			n, runTokens, runTime.Seconds(), runRate, clients, serveTime.Seconds(), serveRate, refused.Load(), serveRate/runRate)
	}
}

// buildDeepconfB builds the command for a benchmark.
func buildDeepconfB(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "deepconf")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}
