package chat

import (
	"strings"
	"testing"

	"github.com/ardanlabs/jinja"
)

// render compiles src with pythonSource and renders it without data.
func render(t *testing.T, src string) string {
	t.Helper()
	fixed, err := pythonSource(src)
	if err != nil {
		t.Fatalf("pythonSource(%q): %v", src, err)
	}
	c, err := jinja.Compile(fixed)
	if err != nil {
		t.Fatalf("compile %q: %v", fixed, err)
	}
	out, err := c.Render(nil)
	if err != nil {
		t.Fatalf("render %q: %v", fixed, err)
	}
	return out
}

// TestPythonSource: what Python's Jinja2 (3.1, with transformers'
// trim_blocks and lstrip_blocks) renders for each source, checked with
// jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True,
// lstrip_blocks=True).from_string(src).render().
func TestPythonSource(t *testing.T) {
	tests := []struct{ src, want string }{
		{"Hello\n", "Hello"},
		{"Hello\n\n", "Hello\n"},
		{"{{ 'a' }}\n", "a"},
		{"a\r\nb", "a\nb"},
		{"a\rb", "a\nb"},
		{"{{ \"Paris.\\\nYour\" }}", "Paris.Your"},
		{"{{ 'one\\\ntwo\\\n\\\nthree' }}", "onetwothree"},
		{`{{ "a\rb" }}`, "a\rb"},
		{`{{ "\x41\u00e9\U0001F600\101" }}`, "Aé😀A"},
		{`{{ '\x27' }}`, "'"},
		{`{{ "\x22" }}`, `"`},
		{`{{ '\x5c' }}`, `\`},
		{`{{ "\x0a" }}`, "\n"},
		{`{{ "tab\there" }}`, "tab\there"},
		{`{{ "keep \d" }}`, `keep \d`},
		{`{{ "q\"q" + 'q\'q' }}`, `q"qq'q`},
		{"text \\\n stays {# \\\n #}", "text \\\n stays "},
		{"{% set x = 'a\\\nb' %}{{ x }}", "ab"},
		{"{ not a tag \\x41", "{ not a tag \\x41"},
	}
	for _, tc := range tests {
		if got := render(t, tc.src); got != tc.want {
			t.Errorf("%q renders %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestPythonSourceErrors(t *testing.T) {
	for _, src := range []string{`{{ "\x4" }}`, `{{ "\uZZZZ" }}`, `{{ "\N{DASH}" }}`, `{{ "\U00110000" }}`} {
		if _, err := pythonSource(src); err == nil {
			t.Errorf("pythonSource(%q) succeeded", src)
		}
	}
}

// FuzzPythonSource: the rewrite never panics, and leaves sources without
// backslashes or carriage returns alone but for one trailing newline.
func FuzzPythonSource(f *testing.F) {
	for _, s := range []string{"{{ 'a\\\nb' }}", "{% if x %}{{ \"\\x41\" }}{% endif %}\n", "{# \\ #}{{", "{{ '", "plain\r\n", qwen3Template, mistralV7Template} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		out, err := pythonSource(src)
		if err != nil {
			return
		}
		if !strings.ContainsAny(src, "\\\r") && out != strings.TrimSuffix(src, "\n") {
			t.Errorf("pythonSource(%q) = %q", src, out)
		}
	})
}
