package chat

import (
	"fmt"
	"strings"
)

// Delimiters are the markers around a model's reasoning, such as Qwen3's and
// DeepSeek-R1's <think> and </think>. The zero value means the model does not
// reason in delimited blocks.
type Delimiters struct {
	Open, Close string
}

// IsZero reports whether d marks no reasoning.
func (d Delimiters) IsZero() bool { return d.Open == "" && d.Close == "" }

// String returns "OPEN,CLOSE", the form ParseDelimiters reads, or "".
func (d Delimiters) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Open + "," + d.Close
}

// ParseDelimiters reads "OPEN,CLOSE" (the --reasoning-delimiters flag).
// Both markers must be non-empty, different, free of commas and of
// surrounding spaces.
func ParseDelimiters(s string) (Delimiters, error) {
	open, close, ok := strings.Cut(s, ",")
	switch {
	case !ok || strings.Contains(close, ","):
		return Delimiters{}, fmt.Errorf("reasoning delimiters %q: want OPEN,CLOSE, such as <think>,</think>", s)
	case open == "" || close == "":
		return Delimiters{}, fmt.Errorf("reasoning delimiters %q: both markers must be non-empty", s)
	case open == close:
		return Delimiters{}, fmt.Errorf("reasoning delimiters %q: the opening and closing markers must differ", s)
	case strings.TrimSpace(open) != open || strings.TrimSpace(close) != close:
		return Delimiters{}, fmt.Errorf("reasoning delimiters %q: markers must not start or end with spaces", s)
	}
	return Delimiters{Open: open, Close: close}, nil
}

// OpenAtEnd reports whether prompt ends inside a reasoning block: its last
// opening marker comes after its last closing marker. DeepSeek-R1's template
// ends the prompt with "<think>\n", so the model starts reasoning at once;
// Qwen3's with thinking off ends with an empty, closed block.
func (d Delimiters) OpenAtEnd(prompt string) bool {
	if d.IsZero() {
		return false
	}
	o := strings.LastIndex(prompt, d.Open)
	return o >= 0 && strings.LastIndex(prompt, d.Close) < o
}

// Tracker follows a trace token by token and tells reasoning from answer.
// The zero Tracker (or one made from zero Delimiters) marks nothing as
// reasoning.
type Tracker struct {
	d      Delimiters
	inside bool
	// tail holds the last bytes seen, to find markers split over tokens;
	// its first skip bytes belong to a marker already counted.
	tail string
	skip int
}

// NewTracker returns a Tracker for a trace whose prompt leaves the model
// inside a reasoning block when inside is true (see OpenAtEnd).
func NewTracker(d Delimiters, inside bool) Tracker {
	return Tracker{d: d, inside: inside && !d.IsZero()}
}

// Next takes the text of the next generated token and reports whether the
// token belongs to the reasoning: it was generated inside a reasoning block,
// or it completes an opening or closing marker. Markers count as reasoning.
func (t *Tracker) Next(text string) bool {
	if t.d.IsZero() {
		return false
	}
	before := t.inside
	s := t.tail + text
	changed := false
	pos := t.skip
	for {
		marker := t.d.Open
		if t.inside {
			marker = t.d.Close
		}
		k := strings.Index(s[pos:], marker)
		if k < 0 {
			break
		}
		// A token may close one block and open the next: go on.
		pos += k + len(marker)
		t.inside = !t.inside
		changed = true
	}
	keep := max(len(t.d.Open), len(t.d.Close)) - 1
	cut := max(0, len(s)-keep)
	t.tail = s[cut:]
	t.skip = max(0, pos-cut)
	return before || changed
}

// Inside reports whether the trace is inside a reasoning block after the
// tokens seen so far: stopped now, it has not reached its answer.
func (t *Tracker) Inside() bool { return t.inside }

// Split separates a whole trace text into its reasoning (markers included)
// and its answer, starting inside a block when inside is true. It agrees with
// a Tracker fed the same text in any number of pieces.
func (d Delimiters) Split(text string, inside bool) (reasoning, answer string) {
	if d.IsZero() {
		return "", text
	}
	var r, a strings.Builder
	for text != "" {
		if inside {
			k := strings.Index(text, d.Close)
			if k < 0 {
				r.WriteString(text)
				break
			}
			r.WriteString(text[:k+len(d.Close)])
			text = text[k+len(d.Close):]
			inside = false
			continue
		}
		k := strings.Index(text, d.Open)
		if k < 0 {
			a.WriteString(text)
			break
		}
		a.WriteString(text[:k])
		text = text[k:]
		inside = true
		r.WriteString(d.Open)
		text = text[len(d.Open):]
	}
	return r.String(), a.String()
}
