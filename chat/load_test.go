package chat

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/engine"
	"github.com/deepconf/deepconf/internal/gguf"
)

func TestParseTokenizerConfig(t *testing.T) {
	tests := []struct {
		json string
		want Own
	}{
		{`{"chat_template": "T", "bos_token": "<s>", "eos_token": {"content": "</s>", "special": true}}`, Own{Source: "T", Tokens: Tokens{BOS: "<s>", EOS: "</s>"}}},
		{`{"chat_template": [{"name": "tool_use", "template": "X"}, {"name": "default", "template": "D"}], "bos_token": null}`, Own{Source: "D"}},
		{`{"eos_token": "<|im_end|>"}`, Own{Tokens: Tokens{EOS: "<|im_end|>"}}},
	}
	for _, tc := range tests {
		got, err := ParseTokenizerConfig([]byte(tc.json))
		if err != nil || got != tc.want {
			t.Errorf("ParseTokenizerConfig(%s) = %+v, %v; want %+v", tc.json, got, err, tc.want)
		}
	}
	for _, bad := range []string{`{`, `{"chat_template": 3}`, `{"bos_token": 3}`} {
		if _, err := ParseTokenizerConfig([]byte(bad)); err == nil {
			t.Errorf("ParseTokenizerConfig(%s) succeeded", bad)
		}
	}
}

// TestSelect: every form of --chat-template.
func TestSelect(t *testing.T) {
	dir := t.TempDir()
	llama3, _ := LookupFamily("llama3")
	own := Own{Source: llama3.Template, Tokens: Tokens{BOS: "<|begin_of_text|>", EOS: "<|eot_id|>"}, Origin: "model m"}
	unknown := Own{Source: "{{ messages[0].content }}!", Tokens: Tokens{BOS: "B"}, Origin: "model u"}

	jinjaFile := filepath.Join(dir, "t.jinja")
	os.WriteFile(jinjaFile, []byte("{{ bos_token }}{{ messages[-1].content }}\n"), 0o644)
	cfgFile := filepath.Join(dir, "tokenizer_config.json")
	os.WriteFile(cfgFile, []byte(`{"chat_template": "<<{{ messages[-1].content }}>>", "bos_token": "<s>"}`), 0o644)
	ggufFile := filepath.Join(dir, "m.gguf")
	f, _ := os.Create(ggufFile)
	err := gguf.Write(f, []gguf.KV{
		{Key: "tokenizer.ggml.tokens", Value: []string{"<bos>", "<eos>", "a"}},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(0)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(1)},
		{Key: "tokenizer.chat_template", Value: "{{ bos_token }}[{{ messages[-1].content }}]{{ eos_token }}"},
	}, nil)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	p := engine.Prompt{User: "Hi"}
	tests := []struct {
		spec   string
		own    Own
		family string
		want   string
	}{
		{"", own, "llama3", "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
		{Model, unknown, Untested, "Hi!"},
		{"phi4", unknown, "phi4", "<|im_start|>user<|im_sep|>Hi<|im_end|><|im_start|>assistant<|im_sep|>"},
		{jinjaFile, unknown, Untested, "BHi"},
		{cfgFile, unknown, Untested, "<<Hi>>"},
		{ggufFile, unknown, Untested, "<bos>[Hi]<eos>"},
	}
	for _, tc := range tests {
		tmpl, err := Select(tc.spec, tc.own)
		if err != nil {
			t.Errorf("Select(%q): %v", tc.spec, err)
			continue
		}
		got, err := tmpl.Render(p)
		if err != nil || got != tc.want || tmpl.FamilyName() != tc.family {
			t.Errorf("Select(%q): %s renders %q, %v; want %s, %q", tc.spec, tmpl.FamilyName(), got, err, tc.family, tc.want)
		}
	}
	for _, tc := range []struct {
		spec string
		own  Own
		want []string
	}{
		{"", unknown, []string{"model u", "not one of the families", "--chat-template NAME", "--chat-template FILE", "--chat-template model"}},
		{"", Own{Origin: "model e"}, []string{"model e has no chat template", "--chat-template NAME"}},
		{"llama4", own, []string{`"llama4"`, "neither a tested family"}},
	} {
		_, err := Select(tc.spec, tc.own)
		if err == nil {
			t.Errorf("Select(%q, %s) succeeded", tc.spec, tc.own.Origin)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Select(%q, %s): error lacks %q: %v", tc.spec, tc.own.Origin, s, err)
			}
		}
	}
	if _, err := Select("", unknown); !errors.Is(err, ErrUnknownTemplate) {
		t.Errorf("unknown template: %v, want ErrUnknownTemplate", err)
	}
}

// TestRenderErrors: a template's raise_exception and an unsupported
// strftime format are errors that name the template.
func TestRenderErrors(t *testing.T) {
	for _, src := range []string{"{{ raise_exception('no way') }}", "{{ strftime_now('%Q') }}"} {
		tmpl, err := Parse(src, Tokens{}, "test template", true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tmpl.Render(engine.Prompt{User: "x"}); err == nil || !strings.Contains(err.Error(), "test template") {
			t.Errorf("%s: %v", src, err)
		}
	}
	if _, err := Parse("{% if %}", Tokens{}, "broken", true); err == nil || !strings.Contains(err.Error(), "--chat-template") {
		t.Errorf("uncompilable template: %v", err)
	}
	// Raw prompts bypass the template.
	tmpl, _ := Builtin("gemma2")
	if got, err := tmpl.Render(engine.Prompt{Raw: "raw", User: "ignored"}); got != "raw" || err != nil {
		t.Errorf("raw prompt = %q, %v", got, err)
	}
}

// FuzzParse: any template source and tokenizer config either fail with an
// error or render; nothing panics.
func FuzzParse(f *testing.F) {
	for _, fam := range Families() {
		f.Add(fam.Template)
	}
	f.Add("{% for m in messages %}{{ m.content | trim }}{% endfor %}")
	f.Add("{{ messages[0]['content'][1:] }}{% set x = namespace(a=1) %}{{ x.a + 'b' }}")
	f.Fuzz(func(t *testing.T, src string) {
		tmpl, err := Parse(src, Tokens{BOS: "<s>"}, "fuzz", true)
		if err != nil {
			return
		}
		tmpl.Render(engine.Prompt{System: "S", User: "U"})
		ParseTokenizerConfig([]byte(src))
	})
}
