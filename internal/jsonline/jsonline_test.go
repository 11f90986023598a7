package jsonline

import "testing"

func TestStringEnd(t *testing.T) {
	tests := []struct {
		in   string
		i    int
		want int
	}{
		{`"abc",1`, 0, 5},
		{`x:"a\"b"}`, 2, 8},
		{`"a\\"b`, 0, 5},
		{`"a\\\"b"`, 0, 8},
		{`""`, 0, 2},
		{`"abc`, 0, -1},
		{`"a\"`, 0, -1},
	}
	for _, tt := range tests {
		if got := StringEnd([]byte(tt.in), tt.i); got != tt.want {
			t.Errorf("StringEnd(%q, %d) = %d, want %d", tt.in, tt.i, got, tt.want)
		}
	}
}
