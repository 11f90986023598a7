package chat

import (
	"slices"
	"strings"
)

// Family is a chat-template family whose published templates deepconf has
// tested: the reference renderings in reference_test.go are written from them
// and compared byte for byte with what deepconf renders.
type Family struct {
	// Name identifies the family, as in --chat-template NAME.
	Name string
	// Models lists the instruction-tuned models whose published templates
	// the tests cover.
	Models string
	// Source names the published template the family's built-in template
	// and reference renderings are written from.
	Source string
	// Template is deepconf's own short template of the family: for a
	// system message (optional) and one user turn with the generation
	// prompt, it renders exactly what the published template renders. It
	// is what --chat-template NAME uses, and what generated test models of
	// the family carry in their GGUF metadata.
	Template string
	// BOS and EOS are the texts of the family's bos_token and eos_token
	// (BOS is "" when the tokenizer has none).
	BOS, EOS string
	// EOG lists the texts of the tokens that end generation.
	EOG []string
	// Specials lists the marker tokens the template writes that the
	// tokenizer holds as single special tokens (EOG tokens included).
	Specials []string
	// Reasoning are the reasoning markers the family's models emit, or
	// zero.
	Reasoning Delimiters
	// ThinkingSwitch reports that the template honours enable_thinking
	// (deepconf's --thinking).
	ThinkingSwitch bool
	// FoldSystem reports that the template has no system role: deepconf
	// then puts the system message in front of the user message,
	// separated by a blank line, as Gemma 3's published template does.
	FoldSystem bool
	// System says what a system message (--system) does.
	System string

	// markers must all occur in a template's source, and none of unless,
	// for the template to belong to the family.
	markers, unless []string
}

// matches reports whether the Jinja source src belongs to f.
func (f *Family) matches(src string) bool {
	for _, m := range f.markers {
		if !strings.Contains(src, m) {
			return false
		}
	}
	for _, m := range f.unless {
		if strings.Contains(src, m) {
			return false
		}
	}
	return true
}

// Families returns the tested families, in the order Detect tries them.
func Families() []Family {
	fs := families()
	out := make([]Family, len(fs))
	for i, f := range fs {
		out[i] = *f
		out[i].EOG = slices.Clone(f.EOG)
		out[i].Specials = slices.Clone(f.Specials)
	}
	return out
}

// LookupFamily returns the tested family called name.
func LookupFamily(name string) (Family, bool) {
	for _, f := range Families() {
		if f.Name == name {
			return f, true
		}
	}
	return Family{}, false
}

// FamilyNames returns the names of the tested families, sorted.
func FamilyNames() []string {
	var names []string
	for _, f := range families() {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}

// Detect returns the tested family the Jinja source src belongs to, judged
// by the markers its published templates (and deepconf's own) contain.
func Detect(src string) (Family, bool) {
	for _, f := range Families() {
		if f.matches(src) {
			return f, true
		}
	}
	return Family{}, false
}

// think are the reasoning markers of Qwen3, DeepSeek-R1 and SmolLM3.
var think = Delimiters{Open: "<think>", Close: "</think>"}

// The families' own templates. Each is written for deepconf's one-turn
// conversations from the published template named in its Source, and
// renders what that template renders for them (reference_test.go checks
// it); what the published templates do with tools, images and assistant
// turns is left out. Newlines are written as '\n' inside the strings.

// qwen3Template is the template of the generated test models since the
// first version; its bytes must not change (cached models, run
// provenance).
const qwen3Template = `{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}`

const llama3Template = `{{- bos_token }}
{{- '<|start_header_id|>system<|end_header_id|>\n\n' }}
{{- 'Cutting Knowledge Date: December 2023\n' }}
{{- 'Today Date: ' + strftime_now('%d %b %Y') + '\n\n' }}
{%- if messages[0].role == 'system' %}
    {{- messages[0].content | trim }}
    {%- set messages = messages[1:] %}
{%- endif %}
{{- '<|eot_id|>' }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message.role + '<|end_header_id|>\n\n' + message.content | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %}`

const gemma2Template = `{{- bos_token }}
{%- if messages[0].role == 'system' %}
    {{- raise_exception('System role not supported') }}
{%- endif %}
{%- for message in messages %}
    {{- '<start_of_turn>' + ('model' if message.role == 'assistant' else message.role) + '\n' + message.content | trim + '<end_of_turn>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<start_of_turn>model\n' }}
{%- endif %}`

const gemma3Template = `{{- bos_token }}
{%- if messages[0].role == 'system' %}
    {%- set first_user_prefix = messages[0].content + '\n\n' %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set first_user_prefix = '' %}
{%- endif %}
{%- for message in messages %}
    {{- '<start_of_turn>' + ('model' if message.role == 'assistant' else message.role) + '\n' + (first_user_prefix if loop.first else '') + message.content | trim + '<end_of_turn>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<start_of_turn>model\n' }}
{%- endif %}`

const mistralV3Template = `{{- bos_token }}
{%- if messages[0].role == 'system' %}
    {%- set system_message = messages[0].content %}
    {%- set messages = messages[1:] %}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == 'user' and loop.last and system_message is defined %}
        {{- '[INST] ' + system_message + '\n\n' + message.content + '[/INST]' }}
    {%- elif message.role == 'user' %}
        {{- '[INST] ' + message.content + '[/INST]' }}
    {%- else %}
        {{- ' ' + message.content | trim + eos_token }}
    {%- endif %}
{%- endfor %}`

const mistralV7Template = `{{- bos_token }}
{%- if messages[0].role == 'system' %}
    {%- set system_message = messages[0].content %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = 'You are Mistral Small 3, a Large Language Model (LLM) created by Mistral AI, a French startup headquartered in Paris.Your knowledge base was last updated on 2023-10-01. The current date is ' + strftime_now('%Y-%m-%d') + '.When you\'re not sure about some information, you say that you don\'t have the information and don\'t make up anything.If the user\'s question is not clear, ambiguous, or does not provide enough context for you to accurately answer the question, you do not try to answer it right away and you rather ask the user to clarify their request (e.g. "What are some good restaurants around me?" => "Where are you?" or "When is the next flight to Tokyo" => "Where do you travel from?")' %}
{%- endif %}
{{- '[SYSTEM_PROMPT]' + system_message + '[/SYSTEM_PROMPT]' }}
{%- for message in messages %}
    {%- if message.role == 'user' %}
        {{- '[INST]' + message.content + '[/INST]' }}
    {%- else %}
        {{- message.content + eos_token }}
    {%- endif %}
{%- endfor %}`

const phi3Template = `{%- for message in messages %}
    {%- if message.role == 'system' and message.content %}
        {{- '<|system|>\n' + message.content + '<|end|>\n' }}
    {%- elif message.role == 'user' %}
        {{- '<|user|>\n' + message.content + '<|end|>\n' }}
    {%- elif message.role == 'assistant' %}
        {{- '<|assistant|>\n' + message.content + '<|end|>\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|assistant|>\n' }}
{%- else %}
    {{- eos_token }}
{%- endif %}`

const phi4Template = `{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '<|im_sep|>' + message.content + '<|im_end|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant<|im_sep|>' }}
{%- endif %}`

const deepseekR1Template = `{{- bos_token }}
{%- if messages[0].role == 'system' %}
    {{- messages[0].content }}
    {%- set messages = messages[1:] %}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == 'user' %}
        {{- '<｜User｜>' + message.content }}
    {%- else %}
        {{- '<｜Assistant｜>' + message.content.split('</think>')[-1] + '<｜end▁of▁sentence｜>' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<｜Assistant｜><think>\n' }}
{%- endif %}`

const smollm2Template = `{%- if messages[0].role != 'system' %}
    {{- '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %}`

const smollm3Template = `{%- set reasoning_mode = '/no_think' if enable_thinking is defined and not enable_thinking else '/think' %}
{%- set custom_instructions = '' %}
{%- if messages[0].role == 'system' %}
    {%- if '/no_think' in messages[0].content %}
        {%- set reasoning_mode = '/no_think' %}
    {%- elif '/think' in messages[0].content %}
        {%- set reasoning_mode = '/think' %}
    {%- endif %}
    {%- set custom_instructions = messages[0].content.replace('/no_think', '').replace('/think', '').rstrip() %}
    {%- set messages = messages[1:] %}
{%- endif %}
{{- '<|im_start|>system\n## Metadata\n\nKnowledge Cutoff Date: June 2025\n' }}
{{- 'Today Date: ' + strftime_now('%d %B %Y') + '\n' }}
{{- 'Reasoning Mode: ' + reasoning_mode + '\n\n## Custom Instructions\n\n' }}
{%- if custom_instructions %}
    {{- custom_instructions + '\n\n' }}
{%- elif reasoning_mode == '/think' %}
    {{- 'You are a helpful AI assistant named SmolLM, trained by Hugging Face. Your role as an assistant involves thoroughly exploring questions through a systematic thinking process before providing the final precise and accurate solutions. This requires engaging in a comprehensive cycle of analysis, summarizing, exploration, reassessment, reflection, backtracking, and iteration to develop well-considered thinking process. Please structure your response into two main sections: Thought and Solution using the specified format: <think> Thought section </think> Solution section. In the Thought section, detail your reasoning process in steps. Each step should include detailed considerations such as analysing questions, summarizing relevant findings, brainstorming new ideas, verifying the accuracy of the current steps, refining any errors, and revisiting previous steps. In the Solution section, based on various attempts, explorations, and reflections from the Thought section, systematically present the final solution that you deem correct. The Solution section should be logical, accurate, and concise and detail necessary steps needed to reach the conclusion.\n\n' }}
{%- else %}
    {{- 'You are a helpful AI assistant named SmolLM, trained by Hugging Face.\n\n' }}
{%- endif %}
{{- '<|im_end|>\n' }}
{%- for message in messages %}
    {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' + ('' if reasoning_mode == '/think' else '<think>\n\n</think>\n') }}
{%- endif %}`

const olmo2Template = `{{- bos_token }}
{%- for message in messages %}
    {%- if message.role == 'system' %}
        {{- '<|system|>\n' + message.content + '\n' }}
    {%- elif message.role == 'user' %}
        {{- '<|user|>\n' + message.content + '\n' }}
    {%- else %}
        {{- '<|assistant|>\n' + message.content + eos_token + '\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|assistant|>\n' }}
{%- endif %}`

// families returns the tested families, in detection order: a family whose
// markers are a subset of another's comes after it.
func families() []*Family {
	return []*Family{
		{
			Name:           "smollm3",
			Models:         "SmolLM3-3B",
			Source:         "HuggingFaceTB/SmolLM3-3B, chat_template.jinja (Apache-2.0)",
			Template:       smollm3Template,
			EOS:            "<|im_end|>",
			EOG:            []string{"<|im_end|>"},
			Specials:       []string{"<|im_start|>", "<|im_end|>"},
			Reasoning:      think,
			ThinkingSwitch: true,
			System:         "replaces the default custom instructions of the system turn; /think or /no_think in it switch thinking, as in the published template",
			markers:        []string{"<|im_start|>", "Reasoning Mode: "},
		},
		{
			Name:     "smollm2",
			Models:   "SmolLM2-135M/360M/1.7B-Instruct",
			Source:   "HuggingFaceTB/SmolLM2-1.7B-Instruct, tokenizer_config.json chat_template (Apache-2.0)",
			Template: smollm2Template,
			BOS:      "<|im_start|>",
			EOS:      "<|im_end|>",
			EOG:      []string{"<|im_end|>", "<|endoftext|>"},
			Specials: []string{"<|im_start|>", "<|im_end|>", "<|endoftext|>"},
			System:   "replaces the default system message (\"You are a helpful AI assistant named SmolLM…\")",
			markers:  []string{"<|im_start|>", "named SmolLM, trained by Hugging Face"},
		},
		{
			Name:           "qwen3",
			Models:         "Qwen3 (0.6B to 235B-A22B, hybrid thinking)",
			Source:         "Qwen/Qwen3-0.6B, tokenizer_config.json chat_template (Apache-2.0); the same as ggml-org/llama.cpp models/templates/Qwen-Qwen3-0.6B.jinja",
			Template:       qwen3Template,
			EOS:            "<|im_end|>",
			EOG:            []string{"<|im_end|>", "<|endoftext|>"},
			Specials:       []string{"<|im_start|>", "<|im_end|>", "<|endoftext|>"},
			Reasoning:      think,
			ThinkingSwitch: true,
			System:         "a system turn before the user turn",
			markers:        []string{"<|im_start|>", "enable_thinking", "<think>"},
		},
		{
			Name:     "phi4",
			Models:   "Phi-4",
			Source:   "microsoft/phi-4, tokenizer_config.json chat_template (MIT)",
			Template: phi4Template,
			BOS:      "<|endoftext|>",
			EOS:      "<|im_end|>",
			EOG:      []string{"<|im_end|>", "<|endoftext|>"},
			Specials: []string{"<|im_start|>", "<|im_sep|>", "<|im_end|>", "<|endoftext|>"},
			System:   "a system turn before the user turn",
			markers:  []string{"<|im_start|>", "<|im_sep|>"},
		},
		{
			Name:      "deepseek-r1",
			Models:    "DeepSeek-R1-Distill-Qwen (1.5B-32B) and DeepSeek-R1-Distill-Llama (8B, 70B)",
			Source:    "deepseek-ai/DeepSeek-R1-Distill-Qwen-32B and -Llama-8B, tokenizer_config.json chat_template (MIT); the same as ggml-org/llama.cpp models/templates/deepseek-ai-DeepSeek-R1-Distill-*.jinja",
			Template:  deepseekR1Template,
			BOS:       "<｜begin▁of▁sentence｜>",
			EOS:       "<｜end▁of▁sentence｜>",
			EOG:       []string{"<｜end▁of▁sentence｜>"},
			Specials:  []string{"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"},
			Reasoning: think,
			System:    "written right after the BOS token, before <｜User｜>, as the published template does (DeepSeek advises putting instructions in the user turn instead)",
			markers:   []string{"<｜User｜>", "<｜Assistant｜>", "<think>"},
		},
		{
			Name:     "llama3",
			Models:   "Llama 3.1, 3.2 and 3.3 Instruct",
			Source:   "meta-llama/Llama-3.1-8B-Instruct, -3.2-3B-Instruct and -3.3-70B-Instruct, tokenizer_config.json chat_template (Llama 3.x Community License); the same as ggml-org/llama.cpp models/templates/meta-llama-Llama-3.*.jinja",
			Template: llama3Template,
			BOS:      "<|begin_of_text|>",
			EOS:      "<|eot_id|>",
			EOG:      []string{"<|eot_id|>", "<|end_of_text|>", "<|eom_id|>"},
			Specials: []string{"<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>"},
			System:   "follows the knowledge-cutoff and date lines of the system header, trimmed",
			markers:  []string{"<|start_header_id|>", "<|eot_id|>", "Cutting Knowledge Date"},
		},
		{
			Name:     "gemma3",
			Models:   "Gemma 3 it (1B-27B)",
			Source:   "google/gemma-3-4b-it, tokenizer_config.json chat_template (Gemma Terms of Use); the same as ollama/ollama template/index.json gemma3-instruct",
			Template: gemma3Template,
			BOS:      "<bos>",
			EOS:      "<eos>",
			EOG:      []string{"<end_of_turn>", "<eos>"},
			Specials: []string{"<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"},
			System:   "Gemma has no system role: the template puts the system message and a blank line in front of the user message",
			markers:  []string{"<start_of_turn>", "first_user_prefix"},
		},
		{
			Name:       "gemma2",
			Models:     "Gemma 2 it (2B-27B)",
			Source:     "google/gemma-2-2b-it, tokenizer_config.json chat_template (Gemma Terms of Use); the same as ggml-org/llama.cpp models/templates/google-gemma-2-2b-it.jinja",
			Template:   gemma2Template,
			BOS:        "<bos>",
			EOS:        "<eos>",
			EOG:        []string{"<end_of_turn>", "<eos>"},
			Specials:   []string{"<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"},
			FoldSystem: true,
			System:     "Gemma has no system role and Gemma 2's template rejects one: deepconf puts the system message and a blank line in front of the user message, as Gemma 3's template does",
			markers:    []string{"<start_of_turn>", "System role not supported"},
		},
		{
			Name:     "mistral-v7",
			Models:   "Mistral Small 3.1 (24B-Instruct-2503)",
			Source:   "mistralai/Mistral-Small-3.1-24B-Instruct-2503, chat_template (Apache-2.0); the same as ggml-org/llama.cpp models/templates/mistralai-Mistral-Small-3.1-24B-Instruct-2503.jinja",
			Template: mistralV7Template,
			BOS:      "<s>",
			EOS:      "</s>",
			EOG:      []string{"</s>"},
			Specials: []string{"<s>", "</s>", "[SYSTEM_PROMPT]", "[/SYSTEM_PROMPT]", "[INST]", "[/INST]"},
			System:   "replaces the default system prompt (which names the model and the date)",
			markers:  []string{"[SYSTEM_PROMPT]", "[INST]"},
		},
		{
			Name:     "mistral-v3",
			Models:   "Mistral 7B Instruct v0.3",
			Source:   "mistralai/Mistral-7B-Instruct-v0.3, tokenizer_config.json chat_template (Apache-2.0)",
			Template: mistralV3Template,
			BOS:      "<s>",
			EOS:      "</s>",
			EOG:      []string{"</s>"},
			Specials: []string{"<s>", "</s>", "[INST]", "[/INST]"},
			System:   "put in front of the last user message inside [INST], followed by a blank line",
			markers:  []string{"[INST] ", "[/INST]"},
			unless:   []string{" [/INST]", "[SYSTEM_PROMPT]"},
		},
		{
			Name:     "phi3",
			Models:   "Phi-3.5-mini-instruct (and Phi-3-mini)",
			Source:   "microsoft/Phi-3.5-mini-instruct, tokenizer_config.json chat_template (MIT); the same as ggml-org/llama.cpp models/templates/microsoft-Phi-3.5-mini-instruct.jinja",
			Template: phi3Template,
			BOS:      "<s>",
			EOS:      "<|endoftext|>",
			EOG:      []string{"<|end|>", "<|endoftext|>"},
			Specials: []string{"<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "<|endoftext|>"},
			System:   "a <|system|> turn before the user turn (none when empty)",
			markers:  []string{"<|user|>", "<|assistant|>", "<|end|>"},
		},
		{
			Name:     "olmo2",
			Models:   "OLMo 2 Instruct (1B-32B)",
			Source:   "allenai/OLMo-2-1124-7B-Instruct, tokenizer_config.json chat_template (Apache-2.0)",
			Template: olmo2Template,
			BOS:      "<|endoftext|>",
			EOS:      "<|endoftext|>",
			EOG:      []string{"<|endoftext|>"},
			Specials: []string{"<|endoftext|>"},
			System:   "a <|system|> turn before the user turn",
			markers:  []string{"<|user|>", "<|assistant|>", "<|system|>"},
			unless:   []string{"<|end|>"},
		},
	}
}
