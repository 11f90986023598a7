package pycompat

import (
	"strings"
	"unicode"
)

// Lower lower-cases s as Python's str.lower does, as far as it matters for
// matching ASCII phrases: Go's strings.ToLower uses simple case mappings,
// Python the full ones, and the only unconditional full lower-case mapping
// that differs is U+0130 (İ → "i̇", i plus combining dot above).
func Lower(s string) string {
	if strings.Contains(s, "\u0130") {
		s = strings.ReplaceAll(s, "\u0130", "i\u0307")
	}
	return strings.ToLower(s)
}

// Strip is Python's str.strip(): it removes leading and trailing white
// space as str.isspace defines it, which is Go's unicode.IsSpace plus the
// information separators U+001C to U+001F.
func Strip(s string) string {
	return strings.TrimFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
	})
}
