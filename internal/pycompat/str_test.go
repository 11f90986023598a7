package pycompat

import "testing"

func TestLower(t *testing.T) {
	// Python 3: s.lower() for each s.
	tests := []struct{ s, want string }{
		{"I CANNOT Help", "i cannot help"},
		{"\u0130stanbul", "i\u0307stanbul"}, // full mapping: İ → i + combining dot above
		{"ÀÉ", "àé"},
	}
	for _, tt := range tests {
		if got := Lower(tt.s); got != tt.want {
			t.Errorf("Lower(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}

func TestStrip(t *testing.T) {
	// Python 3: s.strip() for each s; U+001C–U+001F are white space to
	// str.isspace, not to unicode.IsSpace.
	tests := []struct{ s, want string }{
		{"  a b \n", "a b"},
		{"\x1c\x1d a \x1e\x1f", "a"},
		{"\u00a0a\u2003", "a"},
		{"\x00a", "\x00a"},
	}
	for _, tt := range tests {
		if got := Strip(tt.s); got != tt.want {
			t.Errorf("Strip(%q) = %q, want %q", tt.s, got, tt.want)
		}
	}
}
