package bench

import (
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		// user 100, nice 2, system 30, idle 900 and iowait 50 (not
		// busy), irq 1, softirq 2, steal 3, guest 40 (in user): 138
		// ticks of 10 ms.
		{"cpu  100 2 30 900 50 1 2 3 40 0\ncpu0 50 1 15 450 25 0 1 1 20 0\n", 1380 * time.Millisecond},
		{"cpu 1 2 3 4 5 6\n", 120 * time.Millisecond},
		{"cpu0 1 2 3 4 5 6\n", 0},
		{"cpu 1 2 x 4 5 6\n", 0},
		{"cpu 1 2\n", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := parseProcStat(tt.in); got != tt.want {
			t.Errorf("parseProcStat(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCores(t *testing.T) {
	s := time.Second
	tests := []struct {
		name        string
		a, b        cpuSample
		wall        time.Duration
		self, other float64
		noSelf      bool
		noOther     bool
	}{
		// 1.5 s of this process and 4 s busy in all over 2 s: 0.75
		// cores here, (4 − 1.5)/2 = 1.25 elsewhere.
		{"shared", cpuSample{10 * s, 100 * s}, cpuSample{11500 * time.Millisecond, 104 * s}, 2 * s, 0.75, 1.25, false, false},
		// /proc/stat counted 10 ms less than getrusage (tick
		// rounding): the others used nothing, not −0.02 cores.
		{"rounding", cpuSample{10 * s, 100 * s}, cpuSample{10500 * time.Millisecond, 100490 * time.Millisecond}, 500 * time.Millisecond, 1, 0, false, false},
		{"no /proc/stat", cpuSample{10 * s, 0}, cpuSample{11 * s, 0}, s, 1, 0, false, true},
		{"no rusage", cpuSample{0, 100 * s}, cpuSample{0, 101 * s}, s, 0, 0, true, true},
		{"no wall time", cpuSample{10 * s, 100 * s}, cpuSample{10 * s, 100 * s}, 0, 0, 0, true, true},
	}
	for _, tt := range tests {
		self, other := cores(tt.a, tt.b, tt.wall)
		if (self == nil) != tt.noSelf || (other == nil) != tt.noOther {
			t.Errorf("%s: self %v, other %v", tt.name, self, other)
			continue
		}
		if self != nil && *self != tt.self || other != nil && *other != tt.other {
			t.Errorf("%s: %v cores here, %v others; want %v, %v", tt.name, *self, *other, tt.self, tt.other)
		}
	}
}
