package refusal

import (
	"strings"
	"unicode"
)

// Qwen3's reasoning delimiters.
const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
)

// StripThink removes Qwen3 reasoning from a model response and returns the
// answer part:
//
//   - every <think>…</think> block is removed;
//   - an unterminated <think> block (a trace stopped while still reasoning)
//     is removed up to the end, leaving only the text before it;
//   - a </think> without an opening tag (templates that put <think> in the
//     prompt, as Qwen3-2507's does) removes everything up to and including
//     it.
//
// Surrounding whitespace is trimmed. Text without the tags is returned
// trimmed and otherwise unchanged.
func StripThink(s string) string {
	for {
		o := strings.Index(s, thinkOpen)
		c := strings.Index(s, thinkClose)
		switch {
		case c >= 0 && (o < 0 || c < o):
			// Closing tag first: the opening tag was in the prompt.
			s = s[c+len(thinkClose):]
		case o >= 0 && c > o:
			s = s[:o] + s[c+len(thinkClose):]
		case o >= 0:
			// Unterminated block.
			s = s[:o]
		default:
			return strings.TrimSpace(s)
		}
	}
}

// NormalizeQuotes replaces typographic apostrophes and quotation marks
// (U+2018, U+2019, U+201C, U+201D, primes, guillemets, fullwidth forms, …)
// with ASCII ' and ", and removes zero-width characters and soft hyphens.
func NormalizeQuotes(s string) string { return strings.Map(asciiQuote, s) }

// asciiQuote maps typographic apostrophes and quotation marks, and a few
// look-alikes models emit, to their ASCII forms; zero-width characters and
// the soft hyphen map to -1 (removed).
func asciiQuote(r rune) rune {
	switch r {
	case '\u2018', // left single quotation mark
		'\u2019', // right single quotation mark (the usual curly apostrophe)
		'\u201A', // single low-9 quotation mark
		'\u201B', // single high-reversed-9 quotation mark
		'\u2032', // prime
		'\u02BC', // modifier letter apostrophe
		'\u02B9', // modifier letter prime
		'\uFF07', // fullwidth apostrophe
		'`',      // grave accent used as an apostrophe
		'\u00B4': // acute accent used as an apostrophe
		return '\''
	case '\u201C', // left double quotation mark
		'\u201D', // right double quotation mark
		'\u201E', // double low-9 quotation mark
		'\u201F', // double high-reversed-9 quotation mark
		'\u2033', // double prime
		'\u00AB', // left-pointing double angle quotation mark
		'\u00BB', // right-pointing double angle quotation mark
		'\uFF02': // fullwidth quotation mark
		return '"'
	case '\u200B', // zero width space
		'\u200C', // zero width non-joiner
		'\u200D', // zero width joiner
		'\u2060', // word joiner
		'\uFEFF', // zero width no-break space (BOM)
		'\u00AD': // soft hyphen
		return -1
	}
	return r
}

// Normalize prepares a response for rule matching: StripThink, then
// NormalizeQuotes, then lower-casing, then every run of white space
// (including newlines and no-break spaces) collapsed to one ASCII space.
func Normalize(s string) string {
	return collapseSpace(strings.ToLower(NormalizeQuotes(StripThink(s))))
}

// collapseSpace replaces runs of Unicode white space by one space and trims
// the ends.
func collapseSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsSpace(r) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	return b.String()
}
