package engine

import "strings"

// Qwen3 chat-template tokens.
const (
	imStart = "<|im_start|>"
	imEnd   = "<|im_end|>"
)

// RenderQwen3 renders p with Qwen3's chat template for a single user turn
// and an open assistant turn (add_generation_prompt=True). It produces the same
// text as the template shipped in Qwen3's tokenizer_config.json:
//
//	<|im_start|>system\n{system}<|im_end|>\n        (only with a system message)
//	<|im_start|>user\n{user}<|im_end|>\n
//	<|im_start|>assistant\n
//	<think>\n\n</think>\n\n                          (only with thinking off)
//
// The template strips no whitespace from the user message.
func RenderQwen3(p Prompt) string {
	var b strings.Builder
	b.Grow(len(p.System) + len(p.User) + 96)
	if p.System != "" {
		b.WriteString(imStart + "system\n")
		b.WriteString(p.System)
		b.WriteString(imEnd + "\n")
	}
	b.WriteString(imStart + "user\n")
	b.WriteString(p.User)
	b.WriteString(imEnd + "\n" + imStart + "assistant\n")
	if !p.Thinking {
		b.WriteString("<think>\n\n</think>\n\n")
	}
	return b.String()
}

// Render returns the model input for p: p.Raw if set, else RenderQwen3(p).
func Render(p Prompt) string {
	if p.Raw != "" {
		return p.Raw
	}
	return RenderQwen3(p)
}
