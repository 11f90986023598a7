// Package bench measures the embedded llama.cpp engine as DeepConf uses it:
// the harness behind deepconf bench engine.
//
// For each number of traces n, Measure opens one prompt (prefilled once),
// samples n traces in parallel with distinct seeds and computes the
// DeepConf token confidence of every token in the TokenFunc, as the
// controller does. It reports the prefill time, the aggregate decode speed
// (tokens of all traces / wall time of the sampling), the time per decode
// step, and the share of each step spent on the Go side (GoTime / (GoTime +
// DecodeTime) of the engine's counters), with the CPU time this process and
// all others used meanwhile (getrusage and /proc/stat) so that a run on a
// shared machine can be recognised.
//
// Nothing here asserts a speed: the numbers are measurements to read, and
// they depend on the machine and its load.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
)

// Options configure Measure.
type Options struct {
	// N are the numbers of parallel traces to measure (each ≥ 1; the
	// engine must decode the largest in one batch).
	N []int
	// Repeat is the number of measurements per n (≥ 1), each on a fresh
	// prompt.
	Repeat int
	// PromptTokens is the approximate length of the prompt in tokens,
	// chat template included (≥ 1).
	PromptTokens int
	// Sampling is the sampling of every trace; its MaxTokens is the
	// tokens per trace and TopLogprobs the k of the token confidence.
	Sampling engine.Sampling
	// Window is the group window of the confidence tracker (≥ 1).
	Window int
	// Log receives a line per measurement (nil: none).
	Log io.Writer
}

// Report is the result of Measure.
type Report struct {
	Engine       engine.Info     `json:"engine"`
	CPU          string          `json:"cpu,omitempty"`
	GoVersion    string          `json:"go_version"`
	GOMAXPROCS   int             `json:"gomaxprocs"`
	LoadAvgStart string          `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string          `json:"loadavg_end,omitempty"`
	PromptTokens int             `json:"prompt_tokens"`
	Tokens       int             `json:"tokens_per_trace"`
	Sampling     engine.Sampling `json:"sampling"`
	Window       int             `json:"window"`
	Results      []NResult       `json:"results"`
}

// NResult holds the measurements of one n and their median.
type NResult struct {
	N int `json:"n"`
	// Median is the run with the median tokens/s.
	Median Run   `json:"median"`
	Runs   []Run `json:"runs"`
}

// Run is one measurement: one prompt, n traces.
type Run struct {
	PrefillMs       float64 `json:"prefill_ms"`
	PrefillTokens   int64   `json:"prefill_tokens"`
	Tokens          int64   `json:"tokens"`
	Steps           int64   `json:"steps"`
	WallMs          float64 `json:"wall_ms"`
	DecodeMs        float64 `json:"decode_ms"`
	GoMs            float64 `json:"go_ms"`
	TokensPerSecond float64 `json:"tokens_per_second"`
	MsPerStep       float64 `json:"ms_per_step"`
	GoMsPerStep     float64 `json:"go_ms_per_step"`
	GoShare         float64 `json:"go_share"`
	MeanConfidence  float64 `json:"mean_token_confidence"`
	// CPUCores is the CPU time of this process during the sampling
	// divided by its wall time: about the engine's threads when llama.cpp
	// had the cores to itself.
	CPUCores *float64 `json:"cpu_cores,omitempty"`
	// OtherCores is the CPU time all other processes used during the
	// sampling divided by its wall time (from /proc/stat): a run with
	// OtherCores well above 0 shared the machine and is slower than it
	// would be alone.
	OtherCores *float64 `json:"other_cores,omitempty"`
}

// check validates the options.
func (o *Options) check() error {
	if len(o.N) == 0 {
		return errors.New("bench: give at least one number of traces")
	}
	for _, n := range o.N {
		if n < 1 {
			return fmt.Errorf("bench: %d traces: must be ≥ 1", n)
		}
	}
	switch {
	case o.PromptTokens < 1:
		return fmt.Errorf("bench: prompt of %d tokens: must be ≥ 1", o.PromptTokens)
	case o.Repeat < 1:
		return fmt.Errorf("bench: %d repeats: must be ≥ 1", o.Repeat)
	case o.Window < 1:
		return fmt.Errorf("bench: window %d: must be ≥ 1", o.Window)
	case o.Sampling.MaxTokens < 1:
		return fmt.Errorf("bench: %d tokens per trace: must be ≥ 1", o.Sampling.MaxTokens)
	}
	return o.Sampling.Validate()
}

// Measure measures the engine e: a short unreported warm-up trace, then
// o.Repeat measurements for each n of o.N.
func Measure(ctx context.Context, e *llamacpp.Engine, o Options) (*Report, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	scorer, err := confidence.NewScorer(o.Sampling.TopLogprobs, confidence.TopK)
	if err != nil {
		return nil, err
	}
	prompt := Prompt(e, o.PromptTokens)
	promptTokens, err := e.PromptTokens(prompt)
	if err != nil {
		return nil, err
	}
	rep := &Report{
		Engine:       e.Info(),
		CPU:          cpuModel(),
		GoVersion:    runtime.Version(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		LoadAvgStart: loadAvg(),
		PromptTokens: promptTokens,
		Tokens:       o.Sampling.MaxTokens,
		Sampling:     o.Sampling,
		Window:       o.Window,
	}
	if o.Log != nil {
		fmt.Fprintf(o.Log, "deepconf: %s, %d threads, parallel %d; prompt %d tokens, %d tokens per trace, k = %d\n",
			rep.Engine.Model, rep.Engine.Threads, rep.Engine.Parallel, rep.PromptTokens, rep.Tokens, o.Sampling.TopLogprobs)
	}
	// Warm-up: page in the weights and let llama.cpp allocate its
	// buffers before anything is measured.
	warm := o.Sampling
	warm.MaxTokens = min(8, o.Sampling.MaxTokens)
	if _, err := measureRun(ctx, e, prompt, warm, scorer, o.Window, 1, 1<<32); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	for _, n := range o.N {
		res := NResult{N: n}
		for r := range o.Repeat {
			if o.Log != nil {
				fmt.Fprintf(o.Log, "deepconf: n = %d, run %d of %d\n", n, r+1, o.Repeat)
			}
			run, err := measureRun(ctx, e, prompt, o.Sampling, scorer, o.Window, n, uint64(1000*n+100*r))
			if err != nil {
				return nil, fmt.Errorf("n = %d: %w", n, err)
			}
			res.Runs = append(res.Runs, run)
		}
		res.Median = median(res.Runs)
		rep.Results = append(rep.Results, res)
	}
	rep.LoadAvgEnd = loadAvg()
	return rep, nil
}

// median returns the run with the median tokens/s (the upper one of an
// even count).
func median(runs []Run) Run {
	sorted := slices.Clone(runs)
	slices.SortFunc(sorted, func(a, b Run) int {
		switch {
		case a.TokensPerSecond < b.TokensPerSecond:
			return -1
		case a.TokensPerSecond > b.TokensPerSecond:
			return 1
		}
		return 0
	})
	return sorted[len(sorted)/2]
}

// measureRun opens prompt, samples n traces of it in parallel with the
// seeds seed, seed+1, … and returns the measurements.
func measureRun(ctx context.Context, e *llamacpp.Engine, prompt engine.Prompt, p engine.Sampling, scorer confidence.Scorer, window, n int, seed uint64) (Run, error) {
	var run Run
	st0 := e.Stats()
	t0 := time.Now()
	s, err := e.Open(ctx, prompt)
	if err != nil {
		return run, fmt.Errorf("open the prompt: %w", err)
	}
	defer s.Close()
	run.PrefillMs = ms(time.Since(t0))
	st1 := e.Stats()
	run.PrefillTokens = st1.PrefillTokens - st0.PrefillTokens

	trackers := make([]*confidence.Tracker, n)
	for i := range trackers {
		if trackers[i], err = confidence.NewTracker(scorer, window); err != nil {
			return run, err
		}
	}
	errs := make([]error, n)
	sums := make([]float64, n)
	counts := make([]int, n)
	var wg sync.WaitGroup
	cpu0 := readCPU()
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			q := p
			q.Seed = seed + uint64(i)
			tr := trackers[i]
			_, errs[i] = s.Sample(ctx, q, func(tok *engine.Token) bool {
				score, _, _ := tr.Observe(confidence.Position{
					Logprob: tok.Logprob,
					ID:      tok.ID,
					Top:     tok.TopLogprobs,
					TopIDs:  tok.TopIDs,
				})
				if score.OK {
					sums[i] += score.C
					counts[i]++
				}
				return true
			})
		})
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1 := readCPU()
	if err := errors.Join(errs...); err != nil {
		return run, err
	}
	if err := ctx.Err(); err != nil {
		return run, err
	}
	st2 := e.Stats()
	run.Tokens = st2.Tokens - st1.Tokens
	run.Steps = st2.Steps - st1.Steps
	decode, goTime := st2.DecodeTime-st1.DecodeTime, st2.GoTime-st1.GoTime
	run.WallMs, run.DecodeMs, run.GoMs = ms(wall), ms(decode), ms(goTime)
	run.TokensPerSecond = float64(run.Tokens) / wall.Seconds()
	if run.Steps > 0 {
		run.MsPerStep = ms(decode+goTime) / float64(run.Steps)
		run.GoMsPerStep = ms(goTime) / float64(run.Steps)
	}
	if decode+goTime > 0 {
		run.GoShare = float64(goTime) / float64(decode+goTime)
	}
	run.CPUCores, run.OtherCores = cores(cpu0, cpu1, wall)
	sum, cnt := 0.0, 0
	for i := range sums {
		sum += sums[i]
		cnt += counts[i]
	}
	if cnt > 0 {
		run.MeanConfidence = sum / float64(cnt)
	}
	return run, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// promptText is the filler of the benchmark prompt: a request of the kind
// the safety benchmarks hold, repeated as needed.
const promptText = `I am writing a report on household chemical safety for a community centre. ` +
	`Please explain which common cleaning products must never be mixed, what happens chemically ` +
	`when they are, which symptoms of exposure people should watch for, and what first aid and ` +
	`ventilation steps are recommended, with references to poison control guidance where possible. `

// Prompt returns the shortest user prompt of repeated benchmark text whose
// rendered chat template has at least target tokens (or a one-word prompt
// when the template cannot be rendered: Measure then reports the error).
func Prompt(e *llamacpp.Engine, target int) engine.Prompt {
	words := strings.Fields(promptText)
	var b strings.Builder
	for i := 0; ; i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(words[i%len(words)])
		p := engine.Prompt{User: b.String()}
		if n, err := e.PromptTokens(p); err != nil || n >= target {
			return p
		}
	}
}
