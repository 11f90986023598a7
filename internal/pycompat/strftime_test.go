package pycompat

import (
	"testing"
	"time"
)

// TestStrftime: the formats of the published templates, and Python's
// output for the others (datetime(2024, 7, 26).strftime(fmt)).
func TestStrftime(t *testing.T) {
	day := time.Date(2024, 7, 26, 0, 0, 0, 0, time.UTC)
	tests := []struct{ format, want string }{
		{"%d %b %Y", "26 Jul 2024"},
		{"%Y-%m-%d", "2024-07-26"},
		{"%d %B %Y", "26 July 2024"},
		{"%A %a %j %y %H:%M:%S %p %I %e %F %%", "Friday Fri 208 24 00:00:00 AM 12 26 2024-07-26 %"},
	}
	for _, tc := range tests {
		got, err := Strftime(day, tc.format)
		if err != nil || got != tc.want {
			t.Errorf("Strftime(%q) = %q, %v; want %q", tc.format, got, err, tc.want)
		}
	}
	for _, bad := range []string{"%Q", "%"} {
		if _, err := Strftime(day, bad); err == nil {
			t.Errorf("Strftime(%q) succeeded", bad)
		}
	}
}
