//go:build !unix

package childbench

import "os"

// peakRSS is not available on this system.
func peakRSS(*os.ProcessState) int64 { return 0 }
