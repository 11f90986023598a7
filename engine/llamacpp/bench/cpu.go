package bench

import (
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cpuSample is a reading of this process's CPU time and of the busy time of
// all CPUs; a field is 0 where it cannot be read.
type cpuSample struct {
	self, busy time.Duration
}

// readCPU reads the CPU time of this process (getrusage) and the busy time
// of all CPUs (the first line of /proc/stat).
func readCPU() cpuSample {
	var c cpuSample
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) == nil {
		c.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		c.busy = parseProcStat(string(b))
	}
	return c
}

// parseProcStat returns the busy time of all CPUs from /proc/stat: the
// first line's user, nice, system, irq, softirq and steal ticks (everything
// but idle and iowait; guest time is already in user), in USER_HZ = 100
// ticks per second. It returns 0 for a malformed file.
func parseProcStat(s string) time.Duration {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is already in user
			ticks += n
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// cores returns the cores this process used between the readings a and b
// taken wall apart (nil when its CPU time could not be read), and the
// cores all other processes used (nil when /proc/stat could not be read).
// The busy time is counted in 10 ms ticks and this process's in
// nanoseconds, so over a short window the difference can come out below
// zero by up to a tick per CPU: it is then 0.
func cores(a, b cpuSample, wall time.Duration) (self, other *float64) {
	if a.self == 0 || b.self == 0 || wall <= 0 {
		return nil, nil
	}
	s := (b.self - a.self).Seconds() / wall.Seconds()
	if a.busy == 0 || b.busy == 0 {
		return &s, nil
	}
	o := max(0, (b.busy-a.busy).Seconds()/wall.Seconds()-s)
	return &s, &o
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
