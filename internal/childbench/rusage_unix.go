//go:build unix

package childbench

import (
	"os"
	"runtime"
	"syscall"
)

// peakRSS returns the peak resident set of a finished child process in
// bytes (ru_maxrss is in KiB on Linux and in bytes on macOS).
func peakRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
