package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"
)

// progress reports a run's advance: a bar with instances, traces, tokens/s
// and ETA on a terminal, plain log lines every interval otherwise.
type progress struct {
	mu       sync.Mutex
	total    int
	done     int // instances finished in this session
	already  int // instances finished before this session
	traces   int
	tokens   int
	start    time.Time
	bar      *mpb.Bar
	p        *mpb.Progress
	log      io.Writer
	interval time.Duration
	last     time.Time
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func newProgress(w io.Writer, total, already int) *progress {
	pr := &progress{total: total, already: already, start: time.Now(), log: w, interval: 30 * time.Second}
	pr.last = pr.start
	if isTerminal(w) {
		pr.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
		pr.bar = pr.p.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name("instances "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return pr.summary() })),
		)
		pr.bar.SetCurrent(int64(already))
	} else {
		fmt.Fprintf(w, "deepconf: %d instances to run (%d already done)\n", total-already, already)
	}
	return pr
}

// summary is the text after the bar.
func (pr *progress) summary() string {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	el := time.Since(pr.start)
	rate := float64(pr.tokens) / el.Seconds()
	eta := "?"
	if pr.done > 0 {
		left := pr.total - pr.already - pr.done
		eta = (time.Duration(float64(el) / float64(pr.done) * float64(left))).Round(time.Second).String()
	}
	return fmt.Sprintf("%d traces  %.1f tok/s  ETA %s", pr.traces, rate, eta)
}

// add records a finished instance.
func (pr *progress) add(traces, tokens int) {
	pr.mu.Lock()
	pr.done++
	pr.traces += traces
	pr.tokens += tokens
	logNow := pr.bar == nil && (time.Since(pr.last) >= pr.interval || pr.already+pr.done == pr.total)
	if logNow {
		pr.last = time.Now()
	}
	pr.mu.Unlock()
	if pr.bar != nil {
		pr.bar.Increment()
		return
	}
	if logNow {
		pr.mu.Lock()
		n := pr.already + pr.done
		pr.mu.Unlock()
		fmt.Fprintf(pr.log, "deepconf: %d/%d instances, %s\n", n, pr.total, pr.summary())
	}
}

// close ends the bar.
func (pr *progress) close() {
	if pr.p != nil {
		pr.bar.Abort(false)
		pr.p.Wait()
	}
}
