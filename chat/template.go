package chat

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ardanlabs/jinja"
	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/pycompat"
)

// Untested is the Family.Name of a template outside the tested families,
// which deepconf renders only when the user asks for it (--chat-template
// model or FILE).
const Untested = "untested"

// Template is a compiled chat template with the special tokens it writes.
// It is safe for concurrent use.
type Template struct {
	// Family is the tested family of the template; Family.Name is Untested
	// for other templates.
	Family Family
	// Origin says where the template came from, for messages and
	// provenance: "the GGUF metadata of MODEL", "built-in llama3", a file.
	Origin string
	// Source is the Jinja text.
	Source string
	// BOS and EOS are the texts of bos_token and eos_token.
	BOS, EOS string
	// Reasoning are the markers that separate the model's reasoning from
	// its answer: the family's, or what WithReasoning set.
	Reasoning Delimiters

	compiled *jinja.Template
}

// Tokens are the special-token texts a template may write.
type Tokens struct {
	BOS, EOS string
}

// ErrUnknownTemplate is returned (wrapped) for a model whose chat template
// does not belong to a tested family, or that has none.
var ErrUnknownTemplate = errors.New("no tested chat template")

// Parse compiles the Jinja source src of a model's chat template. origin
// says where it came from (for messages). The template must belong to a
// tested family unless untested is true; otherwise the error names the way
// out.
func Parse(src string, tok Tokens, origin string, untested bool) (*Template, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("%s has no chat template (%w); pass --chat-template NAME (one of %s) or --chat-template FILE",
			origin, ErrUnknownTemplate, strings.Join(FamilyNames(), ", "))
	}
	f, ok := Detect(src)
	if !ok {
		if !untested {
			return nil, fmt.Errorf("%s: %w: its chat template is not one of the families deepconf has tested (%s), so its prompts might not be rendered as the model expects; "+
				"pass --chat-template NAME to use a tested family's template, --chat-template FILE for a Jinja template of your own, or --chat-template model to render the model's own template untested",
				origin, ErrUnknownTemplate, strings.Join(FamilyNames(), ", "))
		}
		f = Family{Name: Untested}
	}
	return compile(src, f, tok, origin)
}

// Builtin returns the template of the tested family called name, with the
// family's special tokens.
func Builtin(name string) (*Template, error) {
	f, ok := LookupFamily(name)
	if !ok {
		return nil, fmt.Errorf("chat template %q: not a tested family (want one of %s)", name, strings.Join(FamilyNames(), ", "))
	}
	return compile(f.Template, f, Tokens{BOS: f.BOS, EOS: f.EOS}, "built-in "+name+" template")
}

func compile(src string, f Family, tok Tokens, origin string) (_ *Template, err error) {
	// A model's template is untrusted input: a Jinja engine's panic on
	// one is an error, not a crash of the run.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: compile chat template: %v; pass --chat-template NAME|FILE", origin, r)
		}
	}()
	fixed, err := pythonSource(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	c, err := jinja.Compile(fixed)
	if err != nil {
		return nil, fmt.Errorf("%s: compile chat template: %w; pass --chat-template NAME|FILE", origin, err)
	}
	return &Template{Family: f, Origin: origin, Source: src, BOS: tok.BOS, EOS: tok.EOS, Reasoning: f.Reasoning, compiled: c}, nil
}

// WithReasoning returns a copy of t whose reasoning markers are d (from
// --reasoning-delimiters).
func (t *Template) WithReasoning(d Delimiters) *Template {
	c := *t
	c.Reasoning = d
	return &c
}

// FamilyName returns the family's name, or Untested.
func (t *Template) FamilyName() string { return t.Family.Name }

// Render returns the model input for p: p.Raw when set, else p rendered with
// the template as Hugging Face's apply_chat_template renders it with
// add_generation_prompt=True: the messages are an optional system message
// and the user message; bos_token and eos_token are the model's; tools and
// documents are none; enable_thinking is p.Thinking; strftime_now formats
// TemplateDay. For a family without a system role (Family.FoldSystem) the
// system message goes in front of the user message, with a blank line.
func (t *Template) Render(p engine.Prompt) (out string, err error) {
	if p.Raw != "" {
		return p.Raw, nil
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("render the %s chat template (%s): %v", t.Family.Name, t.Origin, r)
		}
	}()
	user := p.User
	var msgs []any
	switch {
	case p.System != "" && t.Family.FoldSystem:
		user = p.System + "\n\n" + user
	case p.System != "":
		msgs = append(msgs, map[string]any{"role": "system", "content": p.System})
	}
	msgs = append(msgs, map[string]any{"role": "user", "content": user})
	now := templateTime()
	data := map[string]jinja.Value{
		"messages":              jinja.FromGoValue(msgs),
		"add_generation_prompt": jinja.FromGoValue(true),
		"enable_thinking":       jinja.FromGoValue(p.Thinking),
		"bos_token":             jinja.NewString(t.BOS),
		"eos_token":             jinja.NewString(t.EOS),
		"tools":                 jinja.FromGoValue(nil),
		"documents":             jinja.FromGoValue(nil),
		"strftime_now": jinja.NewCallable("strftime_now", func(args []jinja.Value, _ map[string]jinja.Value) (jinja.Value, error) {
			if len(args) != 1 || !args[0].IsString() {
				return jinja.Undefined(), errors.New("strftime_now: want one format string")
			}
			s, err := pycompat.Strftime(now, args[0].AsString())
			if err != nil {
				return jinja.Undefined(), err
			}
			return jinja.NewString(s), nil
		}),
	}
	out, err = t.compiled.RenderValues(data)
	if err != nil {
		return "", fmt.Errorf("render the %s chat template (%s): %w", t.Family.Name, t.Origin, err)
	}
	return out, nil
}
