package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/deepconf/deepconf/confidence"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/engine/llamacpp"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// newBenchCmd returns the "bench" command, which groups speed measurements.
func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure the speed of deepconf's components",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchEngineCmd())
	return cmd
}

// benchEngineModel is the default model of "bench engine": the generated
// random-weight model of the Qwen3-0.6B shape, quantized to Q8_0.
const benchEngineModel = "test:qwen3-0.6b"

// benchEngineOptions are the flags of "bench engine" besides the engine flags.
type benchEngineOptions struct {
	N            []int
	Tokens       int
	PromptTokens int
	Repeat       int
	K            int
	Window       int
	Temperature  float64
	TopP         float64
	TopK         int
	JSON         bool
}

func newBenchEngineCmd() *cobra.Command {
	var (
		ef engineFlags
		o  benchEngineOptions
	)
	cmd := &cobra.Command{
		Use:   "engine [--model M] [--n 1,4,8,16]",
		Short: "Measure the embedded llama.cpp engine: aggregate decode tokens/s and the Go side's share of each step",
		Long: `engine measures the embedded llama.cpp engine as DeepConf uses it. For each --n it opens one
prompt of about --prompt-tokens tokens (prefilled once), samples n traces of --tokens tokens in
parallel with distinct seeds, and computes the DeepConf token confidence of every token with
package confidence in the TokenFunc, as the controller does. It reports the prefill time, the
aggregate decode speed (tokens of all traces / wall time of the sampling), the time per decode
step, and the share of each step spent on the Go side: GoTime / (GoTime + DecodeTime) of the
engine's counters, where DecodeTime is the time inside llama.cpp's decode and GoTime everything
else the decode loop does while it has work (the fused top-k/log-sum-exp pass over the
vocabulary, sampling, the TokenFunc callbacks, bookkeeping).

Each n is measured --repeat times on a fresh prompt; the table shows the median run (and the
range of tokens/s), --json every run. One short unreported trace warms the engine up first.
The default model is a generated model with random weights of the Qwen3-0.6B shape (Q8_0),
written to the cache on first use; decode speed does not depend on the weight values.`,
		Example: `  deepconf bench engine --threads 2 --n 1,4,8,16
  deepconf bench engine --model Qwen/Qwen3-0.6B --n 8 --tokens 256 --repeat 5 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchEngine(cmd.Context(), cmd, &ef, o)
		},
	}
	fs := cmd.Flags()
	ef.register(fs)
	fs.Lookup("model").DefValue = benchEngineModel
	ef.Model = benchEngineModel
	fs.Lookup("prompts").DefValue = "1"
	ef.Prompts = 1
	fs.Lookup("parallel").DefValue = "0"
	fs.Lookup("parallel").Usage = "traces decoded together in one batch (0: the largest --n; must be ≥ every --n)"
	ef.Parallel = 0
	for _, name := range []string{"endpoint", "api-key", "api-mode", "max-inflight"} {
		fs.MarkHidden(name) // servers are not measured here
	}
	fs.Lookup("ctx").Usage = "context per sequence in tokens (0: the prompt + --tokens, rounded up to a multiple of 256)"
	fs.IntSliceVar(&o.N, "n", []int{1, 4, 8, 16}, "numbers of parallel traces to measure")
	fs.IntVar(&o.Tokens, "tokens", 64, "generated tokens per trace")
	fs.IntVar(&o.PromptTokens, "prompt-tokens", 173, "approximate length of the prompt in tokens, chat template included")
	fs.IntVar(&o.Repeat, "repeat", 3, "measurements per n")
	fs.IntVar(&o.K, "k", engine.MaxTopLogprobs, "top log-probabilities per token for the token confidence")
	fs.IntVar(&o.Window, "window", 16, "group window of the confidence tracker")
	fs.Float64Var(&o.Temperature, "temperature", 0.6, "sampling temperature")
	fs.Float64Var(&o.TopP, "top-p", 0.95, "nucleus sampling mass")
	fs.IntVar(&o.TopK, "top-k", 20, "top-k sampling (0: off)")
	fs.BoolVar(&o.JSON, "json", false, "print machine-readable results")
	return cmd
}

// benchEngineReport is the result of "bench engine --json".
type benchEngineReport struct {
	Engine       engine.Info       `json:"engine"`
	CPU          string            `json:"cpu,omitempty"`
	GoVersion    string            `json:"go_version"`
	GOMAXPROCS   int               `json:"gomaxprocs"`
	LoadAvgStart string            `json:"loadavg_start,omitempty"`
	LoadAvgEnd   string            `json:"loadavg_end,omitempty"`
	PromptTokens int               `json:"prompt_tokens"`
	Tokens       int               `json:"tokens_per_trace"`
	Sampling     engine.Sampling   `json:"sampling"`
	Window       int               `json:"window"`
	Results      []benchEngineNRes `json:"results"`
}

// benchEngineNRes holds the runs of one n and their medians.
type benchEngineNRes struct {
	N int `json:"n"`
	// Median is the run with the median tokens/s.
	Median benchEngineRun   `json:"median"`
	Runs   []benchEngineRun `json:"runs"`
}

// benchEngineRun is one measurement: one prompt, n traces.
type benchEngineRun struct {
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
	// divided by its wall time: about --threads when llama.cpp had the
	// cores to itself.
	CPUCores *float64 `json:"cpu_cores,omitempty"`
	// OtherCores is the CPU time all other processes used during the
	// sampling divided by its wall time (from /proc/stat): a run with
	// OtherCores well above 0 shared the machine and is slower than it
	// would be alone.
	OtherCores *float64 `json:"other_cores,omitempty"`
}

func (o benchEngineOptions) check() error {
	if len(o.N) == 0 {
		return errors.New("--n: give at least one number of traces")
	}
	for _, n := range o.N {
		if n < 1 {
			return fmt.Errorf("--n %d: must be ≥ 1", n)
		}
	}
	switch {
	case o.Tokens < 1:
		return fmt.Errorf("--tokens %d: must be ≥ 1", o.Tokens)
	case o.PromptTokens < 1:
		return fmt.Errorf("--prompt-tokens %d: must be ≥ 1", o.PromptTokens)
	case o.Repeat < 1:
		return fmt.Errorf("--repeat %d: must be ≥ 1", o.Repeat)
	case o.Window < 1:
		return fmt.Errorf("--window %d: must be ≥ 1", o.Window)
	}
	return nil
}

func runBenchEngine(ctx context.Context, cmd *cobra.Command, ef *engineFlags, o benchEngineOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	if len(ef.Endpoints) > 0 {
		return errors.New("bench engine measures the embedded llama.cpp engine; it does not take --endpoint")
	}
	maxN := slices.Max(o.N)
	if ef.Parallel == 0 {
		ef.Parallel = maxN
	} else if ef.Parallel < maxN {
		return fmt.Errorf("--parallel %d is smaller than --n %d: the engine must decode all n traces in one batch", ef.Parallel, maxN)
	}
	if ef.Ctx <= 0 {
		// A few tokens of slack: the prompt may exceed --prompt-tokens by
		// the last word's tokens.
		ef.Ctx = (o.PromptTokens + o.Tokens + 64 + 255) / 256 * 256
	}
	sampling := engine.Sampling{
		Temperature: o.Temperature,
		TopP:        o.TopP,
		TopK:        o.TopK,
		MaxTokens:   o.Tokens,
		TopLogprobs: o.K,
	}
	if err := sampling.Validate(); err != nil {
		return err
	}
	scorer, err := confidence.NewScorer(o.K, confidence.TopK)
	if err != nil {
		return err
	}
	log := cmd.ErrOrStderr()
	eng, err := ef.openEngine(ctx, o.K, o.Tokens, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	e, ok := eng.(*llamacpp.Engine)
	if !ok {
		return fmt.Errorf("bench engine needs the embedded llama.cpp engine, got %s", eng.Info().Name)
	}

	prompt := benchPrompt(e, o.PromptTokens)
	promptTokens, err := e.PromptTokens(prompt)
	if err != nil {
		return err
	}
	rep := benchEngineReport{
		Engine:       e.Info(),
		CPU:          cpuModel(),
		GoVersion:    runtime.Version(),
		GOMAXPROCS:   runtime.GOMAXPROCS(0),
		LoadAvgStart: loadAvg(),
		PromptTokens: promptTokens,
		Tokens:       o.Tokens,
		Sampling:     sampling,
		Window:       o.Window,
	}
	if !o.JSON {
		fmt.Fprintf(log, "deepconf: %s, %d threads, parallel %d; prompt %d tokens, %d tokens per trace, k = %d\n",
			e.Info().Model, ef.Threads, ef.Parallel, rep.PromptTokens, o.Tokens, o.K)
	}

	// Warm-up: page in the weights and let llama.cpp allocate its
	// buffers before anything is measured.
	warm := sampling
	warm.MaxTokens = min(8, o.Tokens)
	if _, err := benchRun(ctx, e, prompt, warm, scorer, o.Window, 1, 1<<32); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for _, n := range o.N {
		res := benchEngineNRes{N: n}
		for r := range o.Repeat {
			if !o.JSON {
				fmt.Fprintf(log, "deepconf: n = %d, run %d of %d\n", n, r+1, o.Repeat)
			}
			run, err := benchRun(ctx, e, prompt, sampling, scorer, o.Window, n, uint64(1000*n+100*r))
			if err != nil {
				return fmt.Errorf("n = %d: %w", n, err)
			}
			res.Runs = append(res.Runs, run)
		}
		sorted := slices.Clone(res.Runs)
		slices.SortFunc(sorted, func(a, b benchEngineRun) int {
			switch {
			case a.TokensPerSecond < b.TokensPerSecond:
				return -1
			case a.TokensPerSecond > b.TokensPerSecond:
				return 1
			}
			return 0
		})
		res.Median = sorted[len(sorted)/2]
		rep.Results = append(rep.Results, res)
	}
	rep.LoadAvgEnd = loadAvg()

	out := cmd.OutOrStdout()
	if o.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printBenchEngine(out, rep)
}

// benchRun opens prompt, samples n traces of it in parallel with the seeds
// seed, seed+1, … and returns the measurements.
func benchRun(ctx context.Context, e *llamacpp.Engine, prompt engine.Prompt, p engine.Sampling, scorer confidence.Scorer, window, n int, seed uint64) (benchEngineRun, error) {
	var run benchEngineRun
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
		wg.Add(1)
		go func() {
			defer wg.Done()
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
		}()
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
	if cpu0.self > 0 && cpu1.self > 0 {
		self := (cpu1.self - cpu0.self).Seconds() / wall.Seconds()
		run.CPUCores = &self
		if cpu0.busy > 0 && cpu1.busy > 0 {
			// /proc/stat counts in 10 ms ticks.
			other := max(0, (cpu1.busy-cpu0.busy).Seconds()/wall.Seconds()-self)
			run.OtherCores = &other
		}
	}
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

// benchText is the filler of the benchmark prompt: a request of the kind
// the safety benchmarks hold, repeated as needed.
const benchText = `I am writing a report on household chemical safety for a community centre. ` +
	`Please explain which common cleaning products must never be mixed, what happens chemically ` +
	`when they are, which symptoms of exposure people should watch for, and what first aid and ` +
	`ventilation steps are recommended, with references to poison control guidance where possible. `

// benchPrompt returns a user prompt whose rendered chat template has at
// least target tokens, or a one-word prompt when the template alone is
// longer.
func benchPrompt(e *llamacpp.Engine, target int) engine.Prompt {
	words := strings.Fields(benchText)
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

func printBenchEngine(w io.Writer, rep benchEngineReport) error {
	fmt.Fprintf(w, "model %s (%v), %s\n", rep.Engine.Model, rep.Engine.Details["model_desc"], rep.Engine.Version)
	fmt.Fprintf(w, "threads %d, parallel %d, cpu %s, %s, GOMAXPROCS %d, load average %s → %s\n",
		rep.Engine.Threads, rep.Engine.Parallel, orUnknown(rep.CPU), rep.GoVersion, rep.GOMAXPROCS,
		orUnknown(rep.LoadAvgStart), orUnknown(rep.LoadAvgEnd))
	fmt.Fprintf(w, "prompt %d tokens, %d tokens per trace, k = %d, T = %g, top-p %g, top-k %d\n\n",
		rep.PromptTokens, rep.Tokens, rep.Sampling.TopLogprobs, rep.Sampling.Temperature, rep.Sampling.TopP, rep.Sampling.TopK)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "n\tprefill ms\ttok/s\ttok/s range\tms/step\tGo ms/step\tGo share\tsteps\ttokens\tmean conf\tcores\tothers\t")
	for _, r := range rep.Results {
		m := r.Median
		lo, hi := m.TokensPerSecond, m.TokensPerSecond
		for _, run := range r.Runs {
			lo, hi = min(lo, run.TokensPerSecond), max(hi, run.TokensPerSecond)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.1f\t%.1f–%.1f\t%.1f\t%.2f\t%.2f%%\t%d\t%d\t%.2f\t%s\t%s\t\n",
			r.N, m.PrefillMs, m.TokensPerSecond, lo, hi, m.MsPerStep, m.GoMsPerStep, 100*m.GoShare, m.Steps, m.Tokens, m.MeanConfidence,
			optFloat(m.CPUCores), optFloat(m.OtherCores))
	}
	return tw.Flush()
}

func optFloat(p *float64) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprintf("%.2f", *p)
}

// cpuSample is a reading of this process's CPU time and of the busy time of
// all CPUs; a field is 0 where it cannot be read.
type cpuSample struct {
	self, busy time.Duration
}

// readCPU reads the CPU time of this process (getrusage) and the busy time
// of all CPUs (the first line of /proc/stat, in USER_HZ = 100 ticks per
// second: everything but idle and iowait).
func readCPU() cpuSample {
	var c cpuSample
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return c
	}
	var ticks int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return c
		}
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is already in user
			ticks += n
		}
	}
	c.busy = time.Duration(ticks) * 10 * time.Millisecond
	return c
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// cpuModel returns the CPU's model name from /proc/cpuinfo, or "" where
// there is none.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// loadAvg returns the 1, 5 and 15 minute load averages from /proc/loadavg,
// or "" where there is none.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
