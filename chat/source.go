package chat

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// pythonSource rewrites a template's source so that github.com/ardanlabs/jinja
// renders it as Python's Jinja2 does in Hugging Face's apply_chat_template.
// The two differ in how they read the source (measured in docs/models.md):
//
//   - Jinja2 turns "\r\n" and "\r" into "\n" and drops one trailing newline of
//     the template (keep_trailing_newline is off); ardanlabs/jinja keeps both.
//   - Jinja2 decodes string literals with Python's escape rules: a backslash
//     before a newline continues the line (both vanish), and \r \a \b \f \v,
//     octal \ooo, \xhh, \uXXXX and \UXXXXXXXX stand for characters.
//     ardanlabs/jinja knows only \n \t \\ \' \" and keeps any other backslash
//     as it is. Mistral Small 3.1's published template breaks its default
//     system message over lines with backslashes, so without this rewrite its
//     prompt would carry "\\\n" where the model was trained on nothing.
//
// The rewrite decodes those escapes inside the string literals of {{ }} and
// {% %} tags and writes the characters back in a form ardanlabs/jinja reads
// the same way; text outside tags and comments is left alone. There is no
// library for this: the fix belongs inside the Jinja engine's lexer, which is
// not exported.
func pythonSource(src string) (string, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = strings.ReplaceAll(src, "\r", "\n")
	src = strings.TrimSuffix(src, "\n")
	if !strings.Contains(src, `\`) {
		return src, nil
	}
	var b strings.Builder
	b.Grow(len(src))
	i := 0
	for i < len(src) {
		open := strings.Index(src[i:], "{")
		if open < 0 || i+open+1 >= len(src) {
			b.WriteString(src[i:])
			break
		}
		open += i
		b.WriteString(src[i:open])
		var closer string
		switch src[open+1] {
		case '{':
			closer = "}}"
		case '%':
			closer = "%}"
		case '#':
			end := strings.Index(src[open+2:], "#}")
			if end < 0 {
				b.WriteString(src[open:])
				return b.String(), nil
			}
			end += open + 4
			b.WriteString(src[open:end])
			i = end
			continue
		default:
			b.WriteByte('{')
			i = open + 1
			continue
		}
		j, err := rewriteTag(&b, src, open, closer)
		if err != nil {
			return "", err
		}
		i = j
	}
	return b.String(), nil
}

// rewriteTag copies the tag that starts at src[start] up to and including its
// closer to b, decoding the escapes of its string literals. It returns the
// index after the tag.
func rewriteTag(b *strings.Builder, src string, start int, closer string) (int, error) {
	b.WriteString(src[start : start+2])
	i := start + 2
	for i < len(src) {
		if strings.HasPrefix(src[i:], closer) {
			b.WriteString(closer)
			return i + len(closer), nil
		}
		c := src[i]
		if c != '\'' && c != '"' {
			b.WriteByte(c)
			i++
			continue
		}
		end, err := rewriteString(b, src, i)
		if err != nil {
			return 0, err
		}
		i = end
	}
	return i, nil // an unclosed tag: the Jinja engine reports it
}

// rewriteString copies the string literal that starts with the quote at
// src[start] to b and returns the index after its closing quote.
func rewriteString(b *strings.Builder, src string, start int) (int, error) {
	quote := src[start]
	b.WriteByte(quote)
	i := start + 1
	for i < len(src) {
		c := src[i]
		if c == quote {
			b.WriteByte(quote)
			return i + 1, nil
		}
		if c != '\\' || i+1 >= len(src) {
			b.WriteByte(c)
			i++
			continue
		}
		e := src[i+1]
		switch e {
		case '\n':
			// Line continuation: both characters vanish.
			i += 2
		case 'n', 't', '\\', '\'', '"':
			// ardanlabs/jinja decodes these as Python does.
			b.WriteString(src[i : i+2])
			i += 2
		case 'r', 'a', 'b', 'f', 'v':
			// The control characters "\r\a\b\f\v", in the order of
			// their escape letters.
			writeRune(b, rune("\r\a\b\f\v"[strings.IndexByte("rabfv", e)]), quote)
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			n := 1
			for n < 3 && i+1+n < len(src) && src[i+1+n] >= '0' && src[i+1+n] <= '7' {
				n++
			}
			v, _ := strconv.ParseUint(src[i+1:i+1+n], 8, 32)
			writeRune(b, rune(v), quote)
			i += 1 + n
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
			if i+2+n > len(src) {
				return 0, fmt.Errorf("chat template: truncated \\%c escape at byte %d", e, i)
			}
			v, err := strconv.ParseUint(src[i+2:i+2+n], 16, 32)
			if err != nil || v > utf8.MaxRune {
				return 0, fmt.Errorf("chat template: bad \\%c escape %q at byte %d", e, src[i:i+2+n], i)
			}
			writeRune(b, rune(v), quote)
			i += 2 + n
		case 'N':
			return 0, fmt.Errorf("chat template: \\N{…} escapes (byte %d) are not supported", i)
		default:
			// Python keeps unknown escapes as they are, and so does
			// ardanlabs/jinja.
			b.WriteString(src[i : i+2])
			i += 2
		}
	}
	return i, nil
}

// writeRune writes r inside a string literal delimited by quote, escaping
// what ardanlabs/jinja would otherwise read differently.
func writeRune(b *strings.Builder, r rune, quote byte) {
	switch {
	case r == rune(quote) || r == '\\':
		b.WriteByte('\\')
		b.WriteRune(r)
	case r == '\n':
		b.WriteString(`\n`)
	case r == '\t':
		b.WriteString(`\t`)
	default:
		b.WriteRune(r)
	}
}
