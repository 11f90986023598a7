// Package progress shows the advance of a command's long jobs: a bar
// (github.com/vbauerster/mpb) when the log is a terminal, plain log lines
// otherwise. Instances follows a run's instances, Fits a training's model
// fits, Count a simulation's experiments.
package progress

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

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Instances reports a run's advance: a bar with instances, traces, tokens/s
// and ETA on a terminal, a log line every interval (and at the last
// instance) otherwise. Its methods may be called from any goroutine.
type Instances struct {
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

// NewInstances starts the report of a run of total instances, already of
// them finished before, on w.
func NewInstances(w io.Writer, total, already int) *Instances {
	pr := &Instances{total: total, already: already, start: time.Now(), log: w, interval: 30 * time.Second}
	pr.last = pr.start
	if IsTerminal(w) {
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
func (pr *Instances) summary() string {
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

// Add records a finished instance with its traces and generated tokens.
func (pr *Instances) Add(traces, tokens int) {
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

// Close ends the bar.
func (pr *Instances) Close() {
	if pr.p != nil {
		pr.bar.Abort(false)
		pr.p.Wait()
	}
}

// Fits shows the model fits of a training done so far on a terminal;
// elsewhere it writes one line when it starts.
type Fits struct {
	p   *mpb.Progress
	bar *mpb.Bar
}

// NewFits starts the report of the training stage name on w.
func NewFits(w io.Writer, name string) *Fits {
	b := &Fits{}
	if !IsTerminal(w) {
		fmt.Fprintf(w, "deepconf: %s…\n", name)
		return b
	}
	b.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
	b.bar = b.p.AddBar(0,
		mpb.PrependDecorators(decor.Name(name+" "), decor.CountersNoUnit("%d/%d fits")),
		mpb.AppendDecorators(decor.Elapsed(decor.ET_STYLE_GO)))
	return b
}

// Set records done of total fits.
func (b *Fits) Set(done, total int) {
	if b.bar == nil {
		return
	}
	b.bar.SetTotal(int64(total), false)
	b.bar.SetCurrent(int64(done))
}

// Close ends the bar.
func (b *Fits) Close() {
	if b.p == nil {
		return
	}
	b.bar.SetTotal(-1, true)
	b.p.Wait()
}

// Count follows a count of equal jobs (a simulation's experiments): a bar
// with the count and ETA on a terminal, a log line at every tenth
// otherwise. Its methods may be called from any goroutine.
type Count struct {
	mu   sync.Mutex
	noun string
	step int
	w    io.Writer
	p    *mpb.Progress
	bar  *mpb.Bar
}

// NewCount starts the report of total jobs called noun (plural) on w.
func NewCount(w io.Writer, noun string, total int) *Count {
	c := &Count{noun: noun, w: w, step: max(total/10, 1)}
	if IsTerminal(w) {
		c.p = mpb.New(mpb.WithOutput(w), mpb.WithWidth(40))
		c.bar = c.p.AddBar(int64(total),
			mpb.PrependDecorators(decor.Name(noun+" "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.AverageETA(decor.ET_STYLE_GO)))
	}
	return c
}

// Done records that done of total jobs are finished.
func (c *Count) Done(done, total int) {
	if c.bar != nil {
		c.bar.Increment()
		return
	}
	if done%c.step == 0 || done == total {
		c.mu.Lock()
		fmt.Fprintf(c.w, "deepconf: %d/%d %s done\n", done, total, c.noun)
		c.mu.Unlock()
	}
}

// Close ends the bar.
func (c *Count) Close() {
	if c.p != nil {
		c.bar.Abort(false)
		c.p.Wait()
	}
}
