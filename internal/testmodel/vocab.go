package testmodel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepconf/deepconf/chat"
	"github.com/deepconf/deepconf/internal/nativelib"
)

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
const (
	tokenNormal      int32 = 1
	tokenControl     int32 = 3
	tokenUserDefined int32 = 4
	tokenUnused      int32 = 5
)

// vocab is the tokenizer part of a model.
type vocab struct {
	tokens         []string
	types          []int32
	merges         []string
	eos, pad, bos  uint32
	eot            *uint32 // tokenizer.ggml.eot_token_id, when set
	template       string
	tokenizerFiles string // directory the vocabulary came from; empty for the byte-level one
}

// Special tokens of Qwen3's chat format.
const (
	endOfText = "<|endoftext|>"
	imStart   = "<|im_start|>"
	imEnd     = "<|im_end|>"
	think     = "<think>"
	endThink  = "</think>"
)

// byteUnicode returns GPT-2's byte-to-unicode table in vocabulary order:
// element i is the byte of token i and the rune that stands for it. The
// printable bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves and
// come first; the other 68 bytes, in increasing order, stand for the runes
// from U+0100 on (bytes_to_unicode in openai/gpt-2's encoder.py, which
// Qwen's byte-level BPE uses too).
func byteUnicode() (order [256]byte, runes [256]rune) {
	n := 0
	var printable [256]bool
	for _, r := range [][2]int{{'!', '~'}, {0xa1, 0xac}, {0xae, 0xff}} {
		for b := r[0]; b <= r[1]; b++ {
			printable[b] = true
			order[n], runes[n] = byte(b), rune(b)
			n++
		}
	}
	next := rune(0x100)
	for b := range 256 {
		if !printable[b] {
			order[n], runes[n] = byte(b), next
			n++
			next++
		}
	}
	return order, runes
}

// byteVocab returns ShapeTiny's vocabulary for the chat-template family
// ("" or "qwen3": the 264-token vocabulary with Qwen3's template; see
// familyVocab for the others).
func byteVocab(family string) (*vocab, error) {
	if family != "" && family != "qwen3" {
		return familyVocab(family)
	}
	qwen3, _ := chat.LookupFamily("qwen3")
	v := byteTokens(qwen3.Template)
	add := func(tok string, typ int32) uint32 {
		v.tokens = append(v.tokens, tok)
		v.types = append(v.types, typ)
		return uint32(len(v.tokens) - 1)
	}
	v.pad = add(endOfText, tokenControl)
	v.bos = v.pad
	add(imStart, tokenControl)
	v.eos = add(imEnd, tokenControl)
	add(think, tokenUserDefined)
	add(endThink, tokenUserDefined)
	return v, nil
}

// byteTokens returns the 256 GPT-2 byte tokens and the first three merges
// of Qwen's BPE, whose results are tokens 256-258 there too, with the chat
// template tmpl.
func byteTokens(tmpl string) *vocab {
	v := &vocab{template: tmpl}
	_, runes := byteUnicode()
	for _, r := range runes {
		v.tokens = append(v.tokens, string(r))
		v.types = append(v.types, tokenNormal)
	}
	for _, m := range []string{"Ġ Ġ", "ĠĠ ĠĠ", "i n"} {
		v.merges = append(v.merges, m)
		v.tokens = append(v.tokens, strings.ReplaceAll(m, " ", ""))
		v.types = append(v.types, tokenNormal)
	}
	return v
}

// familyVocab returns the byte-level vocabulary of a test model of a chat
// family other than Qwen3: the byte tokens, then the family's special tokens
// (chat.Family.Specials, BOS and EOS among them) as control tokens, then
// <think> and </think> as user-defined tokens for families that reason. The
// GGUF carries the family's template, its BOS and EOS, and as EOT the first
// end-of-generation token when it is not EOS (as converted GGUFs of Gemma and
// Phi-3 do), so that llama.cpp tokenizes every marker as one special token
// and stops where the real model stops.
func familyVocab(name string) (*vocab, error) {
	f, ok := chat.LookupFamily(name)
	if !ok {
		return nil, fmt.Errorf("chat family %q: want one of %s", name, strings.Join(chat.FamilyNames(), ", "))
	}
	v := byteTokens(f.Template)
	ids := map[string]uint32{}
	add := func(tok string, typ int32) {
		if _, ok := ids[tok]; ok {
			return
		}
		v.tokens = append(v.tokens, tok)
		v.types = append(v.types, typ)
		ids[tok] = uint32(len(v.tokens) - 1)
	}
	for _, tok := range f.Specials {
		add(tok, tokenControl)
	}
	for _, tok := range f.EOG {
		add(tok, tokenControl)
	}
	if f.BOS != "" {
		add(f.BOS, tokenControl)
	}
	add(f.EOS, tokenControl)
	if !f.Reasoning.IsZero() {
		add(f.Reasoning.Open, tokenUserDefined)
		add(f.Reasoning.Close, tokenUserDefined)
	}
	v.eos, v.pad = ids[f.EOS], ids[f.EOS]
	v.bos = v.eos
	if f.BOS != "" {
		v.bos = ids[f.BOS]
	}
	if f.EOG[0] != f.EOS {
		eot := ids[f.EOG[0]]
		v.eot = &eot
	}
	return v, nil
}

// loadVocab returns the vocabulary of the shape.
func loadVocab(ctx context.Context, o Options, sh shape) (*vocab, error) {
	if !sh.realVocab {
		return byteVocab(o.Family)
	}
	dir := o.TokenizerDir
	if dir == "" {
		var err error
		if dir, err = nativelib.TokenizerDir(ctx, o.Log); err != nil {
			return nil, err
		}
	}
	return hfVocab(dir, qwen3Vocab)
}

// hfTokenizer is the part of a Hugging Face tokenizer.json that a byte-level
// BPE vocabulary needs.
type hfTokenizer struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	Model struct {
		Type   string         `json:"type"`
		Vocab  map[string]int `json:"vocab"`
		Merges hfMerges       `json:"merges"`
	} `json:"model"`
}

// hfMerges holds BPE merges, which tokenizer.json writes either as strings
// "a b" or as pairs ["a", "b"]; either way it holds the GGUF form "a b".
type hfMerges []string

func (m *hfMerges) UnmarshalJSON(b []byte) error {
	var strs []string
	if err := json.Unmarshal(b, &strs); err == nil {
		*m = strs
		return nil
	}
	var pairs [][]string
	if err := json.Unmarshal(b, &pairs); err != nil {
		return fmt.Errorf("merges: want strings or pairs of strings: %w", err)
	}
	*m = make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return fmt.Errorf("merge %d %q: want 2 parts", i, p)
		}
		(*m)[i] = p[0] + " " + p[1]
	}
	return nil
}

// hfConfig is the part of tokenizer_config.json the model needs.
type hfConfig struct {
	ChatTemplate string          `json:"chat_template"`
	EOS          json.RawMessage `json:"eos_token"`
	Pad          json.RawMessage `json:"pad_token"`
	AddBOS       *bool           `json:"add_bos_token"`
}

// tokenName decodes a special-token entry of tokenizer_config.json, either
// a string or an object with a "content" field.
func tokenName(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == "" {
		return "", fmt.Errorf("token %s: want a string or an object with content", raw)
	}
	return obj.Content, nil
}

// hfVocab reads a byte-level BPE vocabulary from the tokenizer.json and
// tokenizer_config.json in dir and pads it to size entries. Token types
// follow llama.cpp's convert_hf_to_gguf.py: vocabulary tokens are normal,
// added tokens marked special or looking like <|...|> are control tokens,
// other added tokens (<think>, <tool_call>, ...) are user-defined, and the
// padding entries [PADn] are unused.
func hfVocab(dir string, size int) (*vocab, error) {
	tokPath := filepath.Join(dir, "tokenizer.json")
	b, err := os.ReadFile(tokPath)
	if err != nil {
		return nil, fmt.Errorf("read tokenizer: %w", err)
	}
	var tj hfTokenizer
	if err := json.Unmarshal(b, &tj); err != nil {
		return nil, fmt.Errorf("parse %s: %w", tokPath, err)
	}
	if tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("%s: model.type %q, want BPE", tokPath, tj.Model.Type)
	}
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	if b, err = os.ReadFile(cfgPath); err != nil {
		return nil, fmt.Errorf("read tokenizer config: %w", err)
	}
	var cfg hfConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("parse %s: %w", cfgPath, err)
	}
	if cfg.ChatTemplate == "" {
		return nil, fmt.Errorf("%s: no chat_template", cfgPath)
	}
	if cfg.AddBOS != nil && *cfg.AddBOS {
		return nil, fmt.Errorf("%s: add_bos_token is true; Qwen3 adds no BOS", cfgPath)
	}

	v := &vocab{
		tokens:         make([]string, size),
		types:          make([]int32, size),
		template:       cfg.ChatTemplate,
		tokenizerFiles: dir,
	}
	set := func(id int, tok string, typ int32, where string) error {
		if id < 0 || id >= size {
			return fmt.Errorf("%s: token %q has id %d, outside 0..%d", where, tok, id, size-1)
		}
		if v.types[id] != 0 {
			return fmt.Errorf("%s: id %d used by both %q and %q", where, id, v.tokens[id], tok)
		}
		v.tokens[id], v.types[id] = tok, typ
		return nil
	}
	for tok, id := range tj.Model.Vocab {
		if err := set(id, tok, tokenNormal, tokPath+": model.vocab"); err != nil {
			return nil, err
		}
	}
	for i, at := range tj.AddedTokens {
		if _, ok := tj.Model.Vocab[at.Content]; ok {
			continue // an added token that is also a vocabulary entry
		}
		typ := tokenUserDefined
		if at.Special || strings.HasPrefix(at.Content, "<|") && strings.HasSuffix(at.Content, "|>") {
			typ = tokenControl
		}
		if err := set(at.ID, at.Content, typ, fmt.Sprintf("%s: added_tokens[%d]", tokPath, i)); err != nil {
			return nil, err
		}
	}
	ids := make(map[string]uint32)
	for id, typ := range v.types {
		if typ == 0 {
			v.tokens[id], v.types[id] = fmt.Sprintf("[PAD%d]", id), tokenUnused
		} else if typ != tokenNormal {
			ids[v.tokens[id]] = uint32(id)
		}
	}
	v.merges = tj.Model.Merges

	lookup := func(field string, raw json.RawMessage) (uint32, error) {
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			return 0, fmt.Errorf("%s: no %s", cfgPath, field)
		}
		name, err := tokenName(raw)
		if err != nil {
			return 0, fmt.Errorf("%s: %s: %w", cfgPath, field, err)
		}
		id, ok := ids[name]
		if !ok {
			return 0, fmt.Errorf("%s: %s %q is not an added token of %s", cfgPath, field, name, tokPath)
		}
		return id, nil
	}
	if v.eos, err = lookup("eos_token", cfg.EOS); err != nil {
		return nil, err
	}
	if v.pad, err = lookup("pad_token", cfg.Pad); err != nil {
		return nil, err
	}
	// Qwen3 has no BOS token of its own; its GGUF files name <|endoftext|>
	// (never added, as add_bos_token is false).
	v.bos = v.pad
	return v, nil
}
