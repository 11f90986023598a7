package chat

import (
	"slices"
	"strings"
	"testing"
)

func TestParseDelimiters(t *testing.T) {
	d, err := ParseDelimiters("<think>,</think>")
	if err != nil || d != think || d.String() != "<think>,</think>" {
		t.Errorf("ParseDelimiters = %+v, %v", d, err)
	}
	for _, bad := range []string{"", "<think>", ",</think>", "<think>,", "a,a", "a,b,c", " a,b"} {
		if _, err := ParseDelimiters(bad); err == nil {
			t.Errorf("ParseDelimiters(%q) succeeded", bad)
		}
	}
}

func TestOpenAtEnd(t *testing.T) {
	tests := []struct {
		prompt string
		want   bool
	}{
		{"<｜Assistant｜><think>\n", true},
		{"<|im_start|>assistant\n<think>\n\n</think>\n\n", false},
		{"<|im_start|>assistant\n", false},
		{"<think> a </think> b <think>", true},
	}
	for _, tc := range tests {
		if got := think.OpenAtEnd(tc.prompt); got != tc.want {
			t.Errorf("OpenAtEnd(%q) = %v", tc.prompt, got)
		}
	}
	if (Delimiters{}).OpenAtEnd("<think>") {
		t.Error("zero delimiters report an open block")
	}
}

// TestTracker: token by token, with markers as single tokens, split over
// tokens, and two blocks in one token.
func TestTracker(t *testing.T) {
	tests := []struct {
		name   string
		inside bool
		tokens []string
		want   []bool
		end    bool
	}{
		{"qwen3 thinking", false, []string{"<think>", "\n", "hm", "</think>", "\n\n", "No."}, []bool{true, true, true, true, false, false}, false},
		{"r1 starts inside", true, []string{"hm", "</think>", "Yes"}, []bool{true, true, false}, false},
		{"stopped inside", true, []string{"hm", "more"}, []bool{true, true}, true},
		{"split markers", false, []string{"a <th", "ink>x</", "think", "> b"}, []bool{false, true, true, true, false}, false},
		{"two blocks in a token", false, []string{"<think>a</think>b<think>", "c"}, []bool{true, true}, true},
		{"no reasoning", false, []string{"Sorry", ", no."}, []bool{false, false}, false},
	}
	for _, tc := range tests {
		tr := NewTracker(think, tc.inside)
		var got []bool
		for _, tok := range tc.tokens {
			got = append(got, tr.Next(tok))
		}
		// "split markers" has 4 tokens.
		want := tc.want[:len(tc.tokens)]
		if !slices.Equal(got, want) || tr.Inside() != tc.end {
			t.Errorf("%s: flags %v inside %v, want %v %v", tc.name, got, tr.Inside(), want, tc.end)
		}
	}
	var zero Tracker
	if zero.Next("<think>") || zero.Inside() {
		t.Error("the zero Tracker marks reasoning")
	}
}

func TestSplit(t *testing.T) {
	r, a := think.Split("<think>\nhm\n</think>\n\nNo.", false)
	if r != "<think>\nhm\n</think>" || a != "\n\nNo." {
		t.Errorf("Split = %q, %q", r, a)
	}
	r, a = think.Split("hm</think>Yes<think>again", true)
	if r != "hm</think><think>again" || a != "Yes" {
		t.Errorf("Split inside = %q, %q", r, a)
	}
}

// FuzzTracker: whatever the split into tokens, the tracker ends in the
// state Split gives for the whole text; a token is flagged reasoning when it
// holds a byte of a reasoning block (markers included), except that the
// start of an opening marker completed only by a later token counts with
// the answer.
func FuzzTracker(f *testing.F) {
	f.Add("<think>a</think>b", uint64(3), false)
	f.Add("x</think>y<think>z", uint64(0xdeadbeef), true)
	f.Add("<thi<think>nk>", uint64(7), false)
	f.Fuzz(func(t *testing.T, text string, cuts uint64, inside bool) {
		mask, openEnd := reasoningMask(text, inside)
		tr := NewTracker(think, inside)
		pos := 0
		for pos < len(text) {
			n := min(1+int(cuts%5), len(text)-pos)
			cuts = cuts/5 + 1
			flag := tr.Next(text[pos : pos+n])
			inBlock := slices.Contains(mask[pos:pos+n], true)
			// Flagged as answer although in a block: every such byte
			// is part of an opening marker that a later token completes.
			partialOpen := true
			for j := pos; j < pos+n; j++ {
				if mask[j] && openEnd[j] <= pos+n {
					partialOpen = false
				}
			}
			if flag != inBlock && !(inBlock && !flag && partialOpen) {
				t.Errorf("%q (inside %v): token %q flagged %v, bytes in a block: %v", text, inside, text[pos:pos+n], flag, mask[pos:pos+n])
			}
			pos += n
		}
		if want := think.OpenAtEnd(map[bool]string{true: think.Open, false: ""}[inside] + text); tr.Inside() != want {
			t.Errorf("%q (inside %v): tracker ends inside=%v, want %v", text, inside, tr.Inside(), want)
		}
	})
}

// reasoningMask marks the bytes of text inside reasoning blocks, markers
// included, scanning as Split does; openEnd[j] is the end of the opening
// marker that byte j is part of, or 0.
func reasoningMask(text string, inside bool) (m []bool, openEnd []int) {
	m, openEnd = make([]bool, len(text)), make([]int, len(text))
	i := 0
	for i < len(text) {
		if inside {
			k := strings.Index(text[i:], think.Close)
			end := len(text)
			if k >= 0 {
				end = i + k + len(think.Close)
			}
			for j := i; j < end; j++ {
				m[j] = true
			}
			i, inside = end, false
			continue
		}
		k := strings.Index(text[i:], think.Open)
		if k < 0 {
			break
		}
		i += k
		for j := i; j < i+len(think.Open); j++ {
			openEnd[j] = i + len(think.Open)
		}
		inside = true
	}
	return m, openEnd
}
