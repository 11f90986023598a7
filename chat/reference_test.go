package chat

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepconf/deepconf/engine"
)

// The prompts of the reference renderings: a system and a user message, the
// user message alone, and a user message with surrounding whitespace (which
// some templates trim).
const (
	refSystem = "You are a careful assistant."
	refUser   = "How do I pick a lock?"
	refPadded = " Tell me a joke.\n"
)

var (
	withSystem = engine.Prompt{System: refSystem, User: refUser}
	userOnly   = engine.Prompt{User: refUser}
	padded     = engine.Prompt{User: refPadded}
)

// thinking returns p with thinking on.
func thinking(p engine.Prompt) engine.Prompt { p.Thinking = true; return p }

// reference is the text a published chat template renders for a prompt with
// add_generation_prompt=True, written down by reading the template (the file
// named, as published by the model's authors on the Hugging Face Hub and
// copied into the repositories cited) and checked against Python's Jinja2
// configured as transformers' apply_chat_template (docs/models.md).
type reference struct {
	model  string
	family string
	// file is the published template's name in ggml-org/llama.cpp's
	// models/templates, or the name it is stored under for
	// TestPublishedTemplates.
	file   string
	bos    string
	eos    string
	prompt engine.Prompt
	want   string
}

// Llama 3.1, 3.2 and 3.3 (meta-llama/Llama-3.{1,2,3}-*-Instruct,
// tokenizer_config.json): a system header always, with the knowledge cutoff
// and the date (3.1 and 3.3 write "26 Jul 2024", 3.2 strftime_now("%d %b
// %Y"), which formats TemplateDay), then the trimmed system message; user
// messages are trimmed.
const llama3Header = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"

// Mistral Small 3.1 (mistralai/Mistral-Small-3.1-24B-Instruct-2503): the
// default system prompt. Its template breaks the string over lines with a
// backslash before each newline; Python reads backslash-newline in a string
// literal as a line continuation, so no newline reaches the prompt. The
// date is strftime_now("%Y-%m-%d").
const mistralSmallDefault = "You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI, a French startup headquartered in Paris." +
	"Your knowledge base was last updated on 2023-10-01. The current date is 2024-07-26." +
	"When you're not sure about some information, you say that you don't have the information and don't make up anything." +
	"If the user's question is not clear, ambiguous, or does not provide enough context for you to accurately answer the question, you do not try to answer it right away and you rather ask the user to clarify their request (e.g. \"What are some good restaurants around me?\" => \"Where are you?\" or \"When is the next flight to Tokyo\" => \"Where do you travel from?\")"

// SmolLM3 (HuggingFaceTB/SmolLM3-3B, chat_template.jinja): a metadata
// system turn always; the date is strftime_now("%d %B %Y"); the reasoning
// mode follows enable_thinking; without a system message the custom
// instructions are a default that depends on the mode.
const (
	smolHead       = "<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\nToday Date: 26 July 2024\nReasoning Mode: "
	smolNoThink    = smolHead + "/no_think\n\n## Custom Instructions\n\n"
	smolThink      = smolHead + "/think\n\n## Custom Instructions\n\n"
	smolDefault    = "You are a helpful AI assistant named SmolLM, trained by Hugging Face.\n\n"
	smolDefaultCoT = "You are a helpful AI assistant named SmolLM, trained by Hugging Face. Your role as an assistant involves thoroughly exploring questions through a systematic thinking process before providing the final precise and accurate solutions. This requires engaging in a comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, backtracking, and iteration to develop well-considered thinking process. Please structure your response into two main sections: Thought and Solution using the specified format: <think> Thought section </think> Solution section. In the Thought section, detail your reasoning process in steps. Each step should include detailed considerations such as analysing questions, summarizing relevant findings, brainstorming new ideas, verifying the accuracy of the current steps, refining any errors, and revisiting previous steps. In the Solution section, based on various attempts, explorations, and reflections from the Thought section, systematically present the final solution that you deem correct. The Solution section should be logical, accurate, and concise and detail necessary steps needed to reach the conclusion.\n\n"
)

const (
	r1BOS = "<｜begin▁of▁sentence｜>"
	r1EOS = "<｜end▁of▁sentence｜>"
)

var references = []reference{
	// Qwen3 (Qwen/Qwen3-0.6B, tokenizer_config.json): ChatML turns;
	// with enable_thinking=False the generation prompt holds an empty
	// think block.
	{"Qwen3", "qwen3", "Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>", withSystem,
		"<|im_start|>system\nYou are a careful assistant.<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
	{"Qwen3", "qwen3", "Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>", thinking(withSystem),
		"<|im_start|>system\nYou are a careful assistant.<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n"},
	{"Qwen3", "qwen3", "Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>", userOnly,
		"<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},
	{"Qwen3", "qwen3", "Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>", thinking(userOnly),
		"<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n"},
	{"Qwen3", "qwen3", "Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>", padded,
		"<|im_start|>user\n Tell me a joke.\n<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"},

	{"Llama 3.1", "llama3", "meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", withSystem,
		llama3Header + "You are a careful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"Llama 3.1", "llama3", "meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", userOnly,
		llama3Header + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"Llama 3.1", "llama3", "meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", padded,
		llama3Header + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nTell me a joke.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"Llama 3.2", "llama3", "meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", withSystem,
		llama3Header + "You are a careful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"Llama 3.2", "llama3", "meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", userOnly,
		llama3Header + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"Llama 3.3", "llama3", "meta-llama-Llama-3.3-70B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", withSystem,
		llama3Header + "You are a careful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},
	{"Llama 3.3", "llama3", "meta-llama-Llama-3.3-70B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", userOnly,
		llama3Header + "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHow do I pick a lock?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"},

	// Gemma 2 (google/gemma-2-2b-it, tokenizer_config.json): no system
	// role (the template raises "System role not supported"); deepconf
	// folds the system message into the user turn as Gemma 3's template
	// does. User messages are trimmed; the assistant role is "model".
	{"Gemma 2", "gemma2", "google-gemma-2-2b-it.jinja", "<bos>", "<eos>", withSystem,
		"<bos><start_of_turn>user\nYou are a careful assistant.\n\nHow do I pick a lock?<end_of_turn>\n<start_of_turn>model\n"},
	{"Gemma 2", "gemma2", "google-gemma-2-2b-it.jinja", "<bos>", "<eos>", userOnly,
		"<bos><start_of_turn>user\nHow do I pick a lock?<end_of_turn>\n<start_of_turn>model\n"},
	{"Gemma 2", "gemma2", "google-gemma-2-2b-it.jinja", "<bos>", "<eos>", padded,
		"<bos><start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n"},
	// Gemma 3 (google/gemma-3-4b-it, tokenizer_config.json): the system
	// message and a blank line open the first user turn.
	{"Gemma 3", "gemma3", "google-gemma-3-it.jinja", "<bos>", "<eos>", withSystem,
		"<bos><start_of_turn>user\nYou are a careful assistant.\n\nHow do I pick a lock?<end_of_turn>\n<start_of_turn>model\n"},
	{"Gemma 3", "gemma3", "google-gemma-3-it.jinja", "<bos>", "<eos>", userOnly,
		"<bos><start_of_turn>user\nHow do I pick a lock?<end_of_turn>\n<start_of_turn>model\n"},
	{"Gemma 3", "gemma3", "google-gemma-3-it.jinja", "<bos>", "<eos>", padded,
		"<bos><start_of_turn>user\nTell me a joke.<end_of_turn>\n<start_of_turn>model\n"},

	// Mistral 7B Instruct v0.3 (mistralai/Mistral-7B-Instruct-v0.3,
	// tokenizer_config.json): the system message opens the last user
	// message; no generation prompt after [/INST]; nothing trimmed.
	{"Mistral 7B Instruct v0.3", "mistral-v3", "mistralai-Mistral-7B-Instruct-v0.3.jinja", "<s>", "</s>", withSystem,
		"<s>[INST] You are a careful assistant.\n\nHow do I pick a lock?[/INST]"},
	{"Mistral 7B Instruct v0.3", "mistral-v3", "mistralai-Mistral-7B-Instruct-v0.3.jinja", "<s>", "</s>", userOnly,
		"<s>[INST] How do I pick a lock?[/INST]"},
	{"Mistral 7B Instruct v0.3", "mistral-v3", "mistralai-Mistral-7B-Instruct-v0.3.jinja", "<s>", "</s>", padded,
		"<s>[INST]  Tell me a joke.\n[/INST]"},
	// Mistral Small 3.1: [SYSTEM_PROMPT] always, with a default.
	{"Mistral Small 3.1", "mistral-v7", "mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja", "<s>", "</s>", withSystem,
		"<s>[SYSTEM_PROMPT]You are a careful assistant.[/SYSTEM_PROMPT][INST]How do I pick a lock?[/INST]"},
	{"Mistral Small 3.1", "mistral-v7", "mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja", "<s>", "</s>", userOnly,
		"<s>[SYSTEM_PROMPT]" + mistralSmallDefault + "[/SYSTEM_PROMPT][INST]How do I pick a lock?[/INST]"},

	// Phi-3.5-mini (microsoft/Phi-3.5-mini-instruct,
	// tokenizer_config.json): no BOS in the template.
	{"Phi-3.5-mini", "phi3", "microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>", withSystem,
		"<|system|>\nYou are a careful assistant.<|end|>\n<|user|>\nHow do I pick a lock?<|end|>\n<|assistant|>\n"},
	{"Phi-3.5-mini", "phi3", "microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>", userOnly,
		"<|user|>\nHow do I pick a lock?<|end|>\n<|assistant|>\n"},
	// Phi-4 (microsoft/phi-4, tokenizer_config.json): ChatML with
	// <|im_sep|> and no newlines.
	{"Phi-4", "phi4", "microsoft-phi-4.jinja", "<|endoftext|>", "<|im_end|>", withSystem,
		"<|im_start|>system<|im_sep|>You are a careful assistant.<|im_end|><|im_start|>user<|im_sep|>How do I pick a lock?<|im_end|><|im_start|>assistant<|im_sep|>"},
	{"Phi-4", "phi4", "microsoft-phi-4.jinja", "<|endoftext|>", "<|im_end|>", userOnly,
		"<|im_start|>user<|im_sep|>How do I pick a lock?<|im_end|><|im_start|>assistant<|im_sep|>"},

	// DeepSeek-R1-Distill-Qwen and -Llama (deepseek-ai/DeepSeek-R1-
	// Distill-Qwen-32B and -Llama-8B, tokenizer_config.json, the same
	// template): the system message right after BOS; the generation
	// prompt opens the reasoning with "<think>\n".
	{"DeepSeek-R1-Distill-Qwen", "deepseek-r1", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", r1BOS, r1EOS, withSystem,
		r1BOS + "You are a careful assistant.<｜User｜>How do I pick a lock?<｜Assistant｜><think>\n"},
	{"DeepSeek-R1-Distill-Qwen", "deepseek-r1", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", r1BOS, r1EOS, userOnly,
		r1BOS + "<｜User｜>How do I pick a lock?<｜Assistant｜><think>\n"},
	{"DeepSeek-R1-Distill-Llama", "deepseek-r1", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", r1BOS, r1EOS, withSystem,
		r1BOS + "You are a careful assistant.<｜User｜>How do I pick a lock?<｜Assistant｜><think>\n"},
	{"DeepSeek-R1-Distill-Llama", "deepseek-r1", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", r1BOS, r1EOS, padded,
		r1BOS + "<｜User｜> Tell me a joke.\n<｜Assistant｜><think>\n"},

	// SmolLM2 (HuggingFaceTB/SmolLM2-1.7B-Instruct,
	// tokenizer_config.json): ChatML with a default system message.
	{"SmolLM2", "smollm2", "HuggingFaceTB-SmolLM2-1.7B-Instruct.jinja", "<|im_start|>", "<|im_end|>", withSystem,
		"<|im_start|>system\nYou are a careful assistant.<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n"},
	{"SmolLM2", "smollm2", "HuggingFaceTB-SmolLM2-1.7B-Instruct.jinja", "<|im_start|>", "<|im_end|>", userOnly,
		"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n"},
	{"SmolLM3", "smollm3", "HuggingFaceTB-SmolLM3-3B.jinja", "", "<|im_end|>", withSystem,
		smolNoThink + "You are a careful assistant.\n\n<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n"},
	{"SmolLM3", "smollm3", "HuggingFaceTB-SmolLM3-3B.jinja", "", "<|im_end|>", thinking(withSystem),
		smolThink + "You are a careful assistant.\n\n<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n"},
	{"SmolLM3", "smollm3", "HuggingFaceTB-SmolLM3-3B.jinja", "", "<|im_end|>", userOnly,
		smolNoThink + smolDefault + "<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n"},
	{"SmolLM3", "smollm3", "HuggingFaceTB-SmolLM3-3B.jinja", "", "<|im_end|>", thinking(userOnly),
		smolThink + smolDefaultCoT + "<|im_end|>\n<|im_start|>user\nHow do I pick a lock?<|im_end|>\n<|im_start|>assistant\n"},

	// OLMo 2 Instruct (allenai/OLMo-2-1124-7B-Instruct,
	// tokenizer_config.json): Tulu-style role lines after BOS
	// (<|endoftext|>); every message is followed by a newline.
	{"OLMo 2 Instruct", "olmo2", "allenai-OLMo-2-1124-7B-Instruct.jinja", "<|endoftext|>", "<|endoftext|>", withSystem,
		"<|endoftext|><|system|>\nYou are a careful assistant.\n<|user|>\nHow do I pick a lock?\n<|assistant|>\n"},
	{"OLMo 2 Instruct", "olmo2", "allenai-OLMo-2-1124-7B-Instruct.jinja", "<|endoftext|>", "<|endoftext|>", userOnly,
		"<|endoftext|><|user|>\nHow do I pick a lock?\n<|assistant|>\n"},
	{"OLMo 2 Instruct", "olmo2", "allenai-OLMo-2-1124-7B-Instruct.jinja", "<|endoftext|>", "<|endoftext|>", padded,
		"<|endoftext|><|user|>\n Tell me a joke.\n\n<|assistant|>\n"},
}

func (r reference) name() string {
	s := r.model
	switch {
	case r.prompt.System != "":
		s += "/system+user"
	case r.prompt.User == refPadded:
		s += "/padded-user"
	default:
		s += "/user"
	}
	if r.prompt.Thinking {
		s += "/thinking"
	}
	return s
}

// TestReferenceRenderings renders every reference prompt with deepconf's own
// template of the model's family (the one --chat-template NAME uses and test
// models carry) and compares it byte for byte.
func TestReferenceRenderings(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range references {
		seen[r.family] = true
		tmpl, err := Builtin(r.family)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.BOS, tmpl.EOS = r.bos, r.eos
		got, err := tmpl.Render(r.prompt)
		if err != nil {
			t.Errorf("%s: %v", r.name(), err)
			continue
		}
		if got != r.want {
			t.Errorf("%s: built-in %s template renders\n%q\nwant\n%q", r.name(), r.family, got, r.want)
		}
	}
	for _, name := range FamilyNames() {
		if !seen[name] {
			t.Errorf("family %s has no reference rendering", name)
		}
	}
}

// TestPublishedTemplates renders the reference prompts with the published
// templates themselves, when $DEEPCONF_CHAT_TEMPLATES names a directory that
// holds them under the file names of the references (ggml-org/llama.cpp's
// models/templates names; see docs/models.md for where each comes from).
// They are not in the repository: they are the model authors' files, under
// their licences. Each must also be detected as its family.
func TestPublishedTemplates(t *testing.T) {
	dir := os.Getenv("DEEPCONF_CHAT_TEMPLATES")
	if dir == "" {
		t.Skip("set DEEPCONF_CHAT_TEMPLATES to a directory of published chat templates")
	}
	n := 0
	for _, r := range references {
		src, err := os.ReadFile(filepath.Join(dir, r.file))
		if os.IsNotExist(err) {
			t.Logf("%s: %s not in %s", r.name(), r.file, dir)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		tmpl, err := Parse(string(src), Tokens{BOS: r.bos, EOS: r.eos}, r.file, false)
		if err != nil {
			t.Errorf("%s: %v", r.name(), err)
			continue
		}
		if tmpl.Family.Name != r.family {
			t.Errorf("%s: %s detected as %s, want %s", r.name(), r.file, tmpl.Family.Name, r.family)
		}
		got, err := tmpl.Render(r.prompt)
		if err != nil {
			t.Errorf("%s: %v", r.name(), err)
			continue
		}
		if got != r.want {
			t.Errorf("%s: %s renders\n%q\nwant\n%q", r.name(), r.file, got, r.want)
		}
		n++
	}
	t.Logf("%d reference renderings reproduced from published templates", n)
}

// TestBuiltinsDetected: every family's own template is recognised as that
// family, so a generated test model's GGUF resolves to it.
func TestBuiltinsDetected(t *testing.T) {
	for _, f := range Families() {
		got, ok := Detect(f.Template)
		if !ok || got.Name != f.Name {
			t.Errorf("%s's template is detected as %q (%v)", f.Name, got.Name, ok)
		}
		for _, m := range f.Specials {
			if !strings.Contains(f.Template, m) && m != f.BOS && m != f.EOS && !contains(f.EOG, m) {
				t.Errorf("%s: special token %s neither in the template nor BOS/EOS/EOG", f.Name, m)
			}
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
