package refusal

import "testing"

func TestStripThink(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"no tags", "  Hello.  ", "Hello."},
		{"closed block", "<think>\nplan the answer\n</think>\n\nI can't help with that.", "I can't help with that."},
		{"empty block (thinking off)", "<think>\n\n</think>\n\nSure, here it is.", "Sure, here it is."},
		{"unterminated block", "<think>the user wants something harmful, I should", ""},
		{"text before an unterminated block", "Answer first. <think>more", "Answer first."},
		{"two blocks", "<think>a</think>One <think>b</think>two", "One two"},
		{"lone closing tag", "reasoning from a prompt-opened block</think>\n\nFinal answer.", "Final answer."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripThink(tt.in); got != tt.want {
				t.Errorf("StripThink(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeQuotes(t *testing.T) {
	tests := []struct{ in, want string }{
		{"I can\u2019t", "I can't"},
		{"\u2018single\u2019 and \u201Cdouble\u201D", "'single' and \"double\""},
		{"\u00ABguillemets\u00BB \u201Elow\u201F", "\"guillemets\" \"low\""},
		{"won\uFF07t \u02BCn", "won't 'n"},
		{"zero\u200Bwidth soft\u00ADhyphen\uFEFF", "zerowidth softhyphen"},
		{"plain 'ascii' \"quotes\"", "plain 'ascii' \"quotes\""},
	}
	for _, tt := range tests {
		if got := NormalizeQuotes(tt.in); got != tt.want {
			t.Errorf("NormalizeQuotes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	in := "<think>x</think>\n  I\u2019M\u00A0SORRY,\n\n\tbut   I can\u2019t.  "
	if got, want := Normalize(in), "i'm sorry, but i can't."; got != want {
		t.Errorf("Normalize = %q, want %q", got, want)
	}
	if got := Normalize("<think>only reasoning"); got != "" {
		t.Errorf("Normalize(unterminated) = %q, want empty", got)
	}
}
