package chat

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/internal/gguf"
)

// Own is a model's own chat template as its files carry it: the Jinja source
// ("" when the model has none) and the texts of its special tokens.
type Own struct {
	Source string
	Tokens Tokens
	// Origin names the model's file, for messages.
	Origin string
}

// Model is the --chat-template value that renders the model's own template
// even when it is not one of the tested families.
const Model = "model"

// Select returns the chat template that spec (--chat-template) chooses for a
// model whose own template is own:
//
//   - "": the model's own template, which must belong to a tested family;
//   - "model": the model's own template, tested family or not;
//   - a family name ("llama3", …): deepconf's template of that family;
//   - a file: a .gguf model's template, the chat_template of a Hugging Face
//     tokenizer_config.json, or a Jinja template (any other name), whose
//     bos_token and eos_token are the model's. A file is the user's
//     explicit choice, so it need not belong to a tested family.
func Select(spec string, own Own) (*Template, error) {
	switch {
	case spec == "":
		return Parse(own.Source, own.Tokens, own.Origin, false)
	case spec == Model:
		return Parse(own.Source, own.Tokens, own.Origin, true)
	}
	if _, ok := LookupFamily(spec); ok {
		return Builtin(spec)
	}
	if _, err := os.Stat(spec); err != nil {
		return nil, fmt.Errorf("--chat-template %q: neither a tested family (%s), nor %q, nor a file: %w",
			spec, strings.Join(FamilyNames(), ", "), Model, err)
	}
	switch strings.ToLower(filepath.Ext(spec)) {
	case ".gguf":
		o, err := ReadGGUF(spec)
		if err != nil {
			return nil, err
		}
		return Parse(o.Source, o.Tokens, o.Origin, true)
	case ".json":
		o, err := ReadTokenizerConfig(spec)
		if err != nil {
			return nil, err
		}
		return Parse(o.Source, o.Tokens, o.Origin, true)
	}
	b, err := os.ReadFile(spec)
	if err != nil {
		return nil, fmt.Errorf("--chat-template: %w", err)
	}
	return Parse(string(b), own.Tokens, spec, true)
}

// ReadGGUF reads the chat template (tokenizer.chat_template) and the texts
// of the BOS and EOS tokens from the metadata of the GGUF file path.
func ReadGGUF(path string) (Own, error) {
	f, err := gguf.ReadFile(path)
	if err != nil {
		return Own{}, fmt.Errorf("read the chat template: %w", err)
	}
	return OwnFromGGUF(f, path), nil
}

// OwnFromGGUF returns the chat template and special tokens of the parsed
// GGUF header f of the file path.
func OwnFromGGUF(f *gguf.File, path string) Own {
	o := Own{Origin: "the GGUF metadata of " + path}
	if v, ok := f.Lookup("tokenizer.chat_template"); ok {
		o.Source, _ = v.(string)
	}
	tokens, _ := lookup[[]string](f, "tokenizer.ggml.tokens")
	text := func(key string) string {
		id, ok := lookup[uint32](f, key)
		if !ok || int(id) >= len(tokens) {
			return ""
		}
		return tokens[id]
	}
	o.Tokens = Tokens{BOS: text("tokenizer.ggml.bos_token_id"), EOS: text("tokenizer.ggml.eos_token_id")}
	return o
}

// lookup returns the metadata value of key if it has type T.
func lookup[T any](f *gguf.File, key string) (T, bool) {
	v, ok := f.Lookup(key)
	if !ok {
		var zero T
		return zero, false
	}
	t, ok := v.(T)
	return t, ok
}

// ReadTokenizerConfig reads the chat template and special tokens of a
// Hugging Face tokenizer_config.json.
func ReadTokenizerConfig(path string) (Own, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Own{}, fmt.Errorf("read the chat template: %w", err)
	}
	o, err := ParseTokenizerConfig(b)
	if err != nil {
		return Own{}, fmt.Errorf("%s: %w", path, err)
	}
	o.Origin = path
	return o, nil
}

// ParseTokenizerConfig decodes the chat template and special tokens of a
// tokenizer_config.json. chat_template is a string, or a list of named
// templates of which "default" is used; bos_token and eos_token are strings
// or objects with a "content" field, or null.
func ParseTokenizerConfig(b []byte) (Own, error) {
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return Own{}, fmt.Errorf("tokenizer config: %w", err)
	}
	var o Own
	if len(cfg.ChatTemplate) > 0 && string(cfg.ChatTemplate) != "null" {
		if err := json.Unmarshal(cfg.ChatTemplate, &o.Source); err != nil {
			var named []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			if err := json.Unmarshal(cfg.ChatTemplate, &named); err != nil {
				return Own{}, fmt.Errorf("tokenizer config: chat_template: want a string or a list of {name, template}")
			}
			for _, n := range named {
				if n.Name == "default" {
					o.Source = n.Template
				}
			}
		}
	}
	var err error
	if o.Tokens.BOS, err = tokenText(cfg.BOS); err != nil {
		return Own{}, fmt.Errorf("tokenizer config: bos_token: %w", err)
	}
	if o.Tokens.EOS, err = tokenText(cfg.EOS); err != nil {
		return Own{}, fmt.Errorf("tokenizer config: eos_token: %w", err)
	}
	return o, nil
}

// tokenText decodes a special-token entry: a string, an object with
// "content", or null.
func tokenText(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", fmt.Errorf("%s: want a string or an object with content", raw)
	}
	return obj.Content, nil
}
