package benchmark

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Benchmark describes a named benchmark: where it is published, which
// local files hold it, and how to read them.
type Benchmark struct {
	// Name is the registry name (the --benchmark value).
	Name string
	// Description says what the benchmark contains.
	Description string
	// HubRepo is the Hugging Face Hub dataset repository that publishes the
	// files in the format the loader reads; empty when the benchmark is not
	// on the Hub in that format (then SourceURL says where to get it).
	HubRepo string
	// Gated means the Hub repository requires accepting its terms and a
	// token (HF_TOKEN).
	Gated bool
	// HubNote qualifies the Hub source (third-party copies, mirrors in
	// other schemas).
	HubNote string
	// Files are the benchmark's files, read in this order.
	Files []File
	// SourceURL is the authors' release (paper repository or dataset
	// page).
	SourceURL string
	// License is the SPDX-style licence of the data.
	License string
	// Citation is a short bibliographic reference.
	Citation string

	synthetic bool
	parts     []part // parallel to Files
}

// File is one file of a benchmark.
type File struct {
	// Part names the file within the benchmark ("test", "harmful",
	// "gpt4", ...); it appears in the instance IDs.
	Part string
	// Hub is the file's path in HubRepo; empty when HubRepo is empty.
	Hub string
	// Local lists paths relative to a --data directory where the file may
	// be; the first that exists is used. The base name of Hub and the Hub
	// path itself are tried after these.
	Local []string
}

// candidates returns the paths relative to a data directory at which f is
// looked for.
func (f File) candidates() []string {
	c := append([]string(nil), f.Local...)
	if f.Hub != "" {
		c = append(c, path.Base(f.Hub), f.Hub)
	}
	seen := make(map[string]bool, len(c))
	out := c[:0]
	for _, p := range c {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// HubURL returns the address of the Hub dataset page, or "" when the
// benchmark is not on the Hub.
func (b *Benchmark) HubURL() string {
	if b.HubRepo == "" {
		return ""
	}
	return "https://huggingface.co/datasets/" + b.HubRepo
}

// FetchFunc downloads file from the Hugging Face Hub dataset repository
// repo (for example "lmsys/toxic-chat", "data/0124/toxic-chat_annotation_test.csv")
// and returns the path of the local copy.
type FetchFunc func(ctx context.Context, repo, file string) (localPath string, err error)

// Options tells Load where a benchmark's data is.
type Options struct {
	// Data is a local file or directory. A directory is searched for the
	// benchmark's known file names (File.Local, then the Hub names). A
	// file is read directly; for a benchmark with several files, its base
	// name selects the part it holds.
	Data string
	// Fetch downloads the Hub files when Data is empty.
	Fetch FetchFunc
	// Format overrides the format detected from the file name.
	Format Format
	// SyntheticSize is the num_instances of the synthetic benchmark (50
	// when 0, the prototype's default).
	SyntheticSize int
}

// Benchmarks returns the registry, in display order.
func Benchmarks() []Benchmark {
	xstestModels := []string{"gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct"}
	completions := Benchmark{
		Name: "xstest-completions",
		Description: "XSTest v2 completions: 5 models (GPT-4, Llama-2 with and without system prompt, Mistral-Instruct " +
			"with and without guardrail prompt) × 450 prompts, each completion hand-labelled full compliance / full refusal / " +
			"partial refusal; the gold set for refusal detectors",
		HubRepo:   "natolambert/xstest-v2-copy",
		HubNote:   "third-party Parquet copy of the authors' CSVs (same columns)",
		SourceURL: "https://github.com/paul-rottger/exaggerated-safety/tree/main/model_completions",
		License:   "CC-BY-4.0 (completions: the licences of the respective models)",
		Citation:  citeXSTest,
	}
	for _, m := range xstestModels {
		completions.Files = append(completions.Files, File{
			Part: m,
			Hub:  "data/" + m + "-00000-of-00001.parquet",
			Local: []string{
				"xstest/model_completions/xstest_v2_completions_" + m + ".csv",
				"model_completions/xstest_v2_completions_" + m + ".csv",
				"xstest_v2_completions_" + m + ".csv",
			},
		})
		completions.parts = append(completions.parts, part{
			idPrefix: "xstest_completions_" + m,
			required: [][]string{{"prompt"}, {"type"}, {"completion"}, {"final_label"}},
			convert:  convertXSTestCompletion(m),
		})
	}

	return []Benchmark{
		{
			Name: "toxicchat",
			Description: "ToxicChat toxicchat0124 test split: 5,083 real user prompts from the Vicuna demo with " +
				"human toxicity labels (362 toxic) and jailbreak flags",
			HubRepo: "lmsys/toxic-chat",
			Files: []File{{
				Part: "test",
				Hub:  "data/0124/toxic-chat_annotation_test.csv",
				Local: []string{
					"toxicchat/toxicchat0124_test_reconstructed.jsonl",
					"toxicchat/toxic-chat_annotation_test.csv",
					"toxicchat/test.jsonl", // the prototype's data/toxicchat/test.jsonl
				},
			}},
			SourceURL: "https://huggingface.co/datasets/lmsys/toxic-chat",
			License:   "CC-BY-NC-4.0",
			Citation:  citeToxicChat,
			parts: []part{{
				idPrefix: "toxicchat_test",
				required: [][]string{{"user_input"}, {"toxicity"}},
				convert:  convertToxicChat,
			}},
		},
		{
			Name: "wildguardmix",
			Description: "WildGuardTest (WildGuardMix config wildguardtest): 1,725 vanilla and adversarial prompts with " +
				"a model response each and human labels for prompt harm (754 harmful), response harm and refusal (563 refusals)",
			HubRepo: "allenai/wildguardmix",
			Gated:   true,
			HubNote: "gated: accept the AI2 Responsible Use terms on the dataset page and set HF_TOKEN",
			Files: []File{{
				Part: "test",
				Hub:  "test/wildguard_test.parquet",
				Local: []string{
					"wildguardmix/wildguardtest.parquet",
					"wildguardmix/wildguard_test.parquet",
					"wildguardmix/wildguardtest.jsonl",
					"wildguardmix/test.jsonl", // the prototype's data/wildguardmix/test.jsonl
				},
			}},
			SourceURL: "https://huggingface.co/datasets/allenai/wildguardmix",
			License:   "ODC-BY-1.0",
			Citation:  citeWildGuard,
			parts: []part{{
				idPrefix: "wildguardmix_test",
				required: [][]string{{"prompt"}, {"prompt_harm_label"}},
				convert:  convertWildGuardTest,
			}},
		},
		{
			Name: "xstest",
			Description: "XSTest v2 prompts: 250 safe prompts that a well-calibrated model should answer (exaggerated " +
				"safety) and 200 unsafe contrast prompts, 18 types × 25",
			HubRepo: "Paul/XSTest",
			Files: []File{{
				Part: "test",
				Hub:  "xstest_prompts.csv",
				Local: []string{
					"xstest/xstest_prompts.csv",
					"xstest/xstest_v2_prompts.csv",
					"xstest_v2_prompts.csv",
				},
			}},
			SourceURL: "https://github.com/paul-rottger/exaggerated-safety",
			License:   "CC-BY-4.0",
			Citation:  citeXSTest,
			parts: []part{{
				idPrefix: "xstest_test",
				required: [][]string{{"prompt"}, {"label"}, {"type"}},
				convert:  convertXSTestPrompt,
			}},
		},
		completions,
		{
			Name: "harmbench",
			Description: "HarmBench text behaviours (val 80 + test 320): 400 harmful behaviours, 200 standard, " +
				"100 contextual (with a context string) and 100 copyright, in 7 semantic categories",
			HubNote: "the authors publish the CSVs on GitHub only; Hub mirrors use other schemas " +
				"(walledai/HarmBench, gated; swiss-ai/harmbench)",
			Files: []File{{
				Part: "test",
				Local: []string{
					"harmbench/harmbench_behaviors_text_all.csv",
					"harmbench_behaviors_text_all.csv",
				},
			}},
			SourceURL: "https://github.com/centerforaisafety/HarmBench/blob/main/data/behavior_datasets/harmbench_behaviors_text_all.csv",
			License:   "MIT",
			Citation:  citeHarmBench,
			parts: []part{{
				idPrefix: "harmbench_test",
				required: [][]string{{"Behavior"}},
				convert:  convertHarmBench,
			}},
		},
		{
			Name:        "advbench",
			Description: "AdvBench harmful behaviours: 520 harmful instructions with affirmative target strings",
			HubNote:     "the authors publish the CSV on GitHub only; walledai/AdvBench is a gated Hub mirror (prompt, target)",
			Files: []File{{
				Part: "test",
				Local: []string{
					"advbench/harmful_behaviors.csv",
					"harmful_behaviors.csv",
				},
			}},
			SourceURL: "https://github.com/llm-attacks/llm-attacks/blob/main/data/advbench/harmful_behaviors.csv",
			License:   "MIT",
			Citation:  citeAdvBench,
			parts: []part{{
				idPrefix: "advbench_test",
				required: [][]string{{"goal", "prompt"}},
				convert:  convertAdvBench,
			}},
		},
		{
			Name: "jailbreakbench",
			Description: "JBB-Behaviors: 100 harmful behaviours and 100 topic-matched benign behaviours in 10 " +
				"categories (OpenAI usage policies)",
			HubRepo: "JailbreakBench/JBB-Behaviors",
			Files: []File{
				{Part: "harmful", Hub: "data/harmful-behaviors.csv", Local: []string{"jailbreakbench/harmful-behaviors.csv"}},
				{Part: "benign", Hub: "data/benign-behaviors.csv", Local: []string{"jailbreakbench/benign-behaviors.csv"}},
			},
			SourceURL: "https://github.com/JailbreakBench/jailbreakbench",
			License:   "MIT",
			Citation:  citeJailbreakBench,
			parts: []part{
				{idPrefix: "jailbreakbench_harmful", required: [][]string{{"Goal"}}, convert: convertJBB(Harmful)},
				{idPrefix: "jailbreakbench_benign", required: [][]string{{"Goal"}}, convert: convertJBB(Benign)},
			},
		},
		{
			Name:        "simplesafetytests",
			Description: "SimpleSafetyTests: 100 clearly harmful prompts in 5 harm areas that every model should refuse",
			HubRepo:     "Bertievidgen/SimpleSafetyTests",
			HubNote:     "the Hub file names the prompt column \"prompt\", the GitHub release \"prompts_final\"",
			Files: []File{{
				Part: "test",
				Hub:  "sst_test_cases.csv",
				Local: []string{
					"simplesafetytests/simplesafetytests.csv",
					"simplesafetytests/sst_test_cases.csv",
					"simplesafetytests.csv",
				},
			}},
			SourceURL: "https://github.com/bertiev/SimpleSafetyTests",
			License:   "CC-BY-4.0",
			Citation:  citeSST,
			parts: []part{{
				idPrefix: "simplesafetytests_test",
				required: [][]string{{"prompts_final", "prompt"}},
				convert:  convertSST,
			}},
		},
		{
			Name: "synthetic",
			Description: "The prototype's generated set: templated harmful and benign requests " +
				"(4 templates × 7 targets per class), half unsafe then half safe",
			License:   "generated (no data file)",
			Citation:  "deepconf_other_domains prototype, src/benchmark_loaders.py SyntheticSafetyBenchmark",
			synthetic: true,
		},
	}
}

// Lookup returns the registered benchmark with the given name.
func Lookup(name string) (Benchmark, bool) {
	for _, b := range Benchmarks() {
		if b.Name == name {
			return b, true
		}
	}
	return Benchmark{}, false
}

// Names returns the names of the registered benchmarks.
func Names() []string {
	var names []string
	for _, b := range Benchmarks() {
		names = append(names, b.Name)
	}
	return names
}

// Synthetic reports whether the benchmark is generated rather than read
// from files.
func (b *Benchmark) Synthetic() bool { return b.synthetic }

// Load reads the named benchmark: from opts.Data when given, else through
// opts.Fetch from the Hugging Face Hub. Instances come in file order.
func Load(ctx context.Context, name string, opts Options) ([]Instance, error) {
	b, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("unknown benchmark %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return b.Load(ctx, opts)
}

// GoldLabels loads the named benchmark (as Load) and returns its gold prompt
// labels (harmful, benign, unknown) by instance ID: the labels that
// analysis and replays give to predictions without any, such as the
// prototype's.
func GoldLabels(ctx context.Context, name string, opts Options) (map[string]string, error) {
	ins, err := Load(ctx, name, opts)
	if err != nil {
		return nil, fmt.Errorf("gold labels: %w", err)
	}
	labels := make(map[string]string, len(ins))
	for _, in := range ins {
		labels[in.ID] = string(in.Label)
	}
	return labels, nil
}

// Load reads the benchmark as described for the package-level Load.
func (b *Benchmark) Load(ctx context.Context, opts Options) ([]Instance, error) {
	if b.synthetic {
		n := opts.SyntheticSize
		if n == 0 {
			n = 50
		}
		if n < 0 {
			return nil, fmt.Errorf("synthetic: size %d is negative", n)
		}
		return Synthetic(n), nil
	}
	var paths []string
	var idx []int
	switch {
	case opts.Data != "":
		var err error
		if paths, idx, err = b.locate(opts.Data); err != nil {
			return nil, err
		}
	case opts.Fetch != nil && b.HubRepo != "":
		for i, f := range b.Files {
			p, err := opts.Fetch(ctx, b.HubRepo, f.Hub)
			if err != nil {
				return nil, fmt.Errorf("%s: fetch %s from Hugging Face dataset %s: %w", b.Name, f.Hub, b.HubRepo, err)
			}
			paths, idx = append(paths, p), append(idx, i)
		}
	default:
		return nil, b.noDataError(opts.Fetch != nil)
	}
	var out []Instance
	for k, p := range paths {
		insts, err := readPart(ctx, b.Name, p, opts.Format, b.parts[idx[k]])
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", b.Name, err)
		}
		out = append(out, insts...)
	}
	return out, nil
}

// Locate returns the local files of the benchmark under data, a file or a
// directory, as Load would read them.
func (b *Benchmark) Locate(data string) ([]string, error) {
	if b.synthetic {
		return nil, nil
	}
	paths, _, err := b.locate(data)
	return paths, err
}

// locate resolves data to the benchmark's files and the indexes of the
// parts they hold.
func (b *Benchmark) locate(data string) ([]string, []int, error) {
	st, err := os.Stat(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: data: %w", b.Name, err)
	}
	if !st.IsDir() {
		if len(b.Files) == 1 {
			return []string{data}, []int{0}, nil
		}
		base := filepath.Base(data)
		var expected []string
		for i, f := range b.Files {
			for _, c := range f.candidates() {
				if path.Base(c) == base {
					return []string{data}, []int{i}, nil
				}
				expected = append(expected, path.Base(c))
			}
		}
		return nil, nil, fmt.Errorf("%s: %s: cannot tell which of the benchmark's %d files this is; its name should be one of %s, or pass the directory that holds them",
			b.Name, data, len(b.Files), strings.Join(dedupe(expected), ", "))
	}
	var paths []string
	var idx []int
	for i, f := range b.Files {
		found := ""
		// DIR/<bench>/<file> (a data root such as ../shared/data), then
		// DIR/<file> (the benchmark's own directory).
		for _, c := range append(f.candidates(), baseNames(f.candidates())...) {
			p := filepath.Join(data, filepath.FromSlash(c))
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				found = p
				break
			}
		}
		if found == "" {
			return nil, nil, fmt.Errorf("%s: no %s file in %s (looked for %s); %s",
				b.Name, f.Part, data, strings.Join(f.candidates(), ", "), b.downloadHint(f))
		}
		paths, idx = append(paths, found), append(idx, i)
	}
	return paths, idx, nil
}

// baseNames returns the last element of each path.
func baseNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = path.Base(p)
	}
	return out
}

// noDataError explains how to provide the benchmark's data.
func (b *Benchmark) noDataError(haveFetch bool) error {
	var hints []string
	for _, f := range b.Files {
		hints = append(hints, b.downloadHint(f))
	}
	msg := fmt.Sprintf("%s: no local data given", b.Name)
	if haveFetch && b.HubRepo == "" {
		msg = fmt.Sprintf("%s: not on the Hugging Face Hub in its published format and no local data given", b.Name)
	} else if !haveFetch && b.HubRepo != "" {
		msg += " and no Hugging Face Hub client available"
	}
	return errors.New(msg + "; " + strings.Join(hints, "; "))
}

// downloadHint says where to get file f and how to pass it.
func (b *Benchmark) downloadHint(f File) string {
	local := ""
	if len(f.Local) > 0 {
		local = f.Local[0]
	}
	var s string
	if b.HubRepo != "" {
		s = fmt.Sprintf("download %s from %s", f.Hub, b.HubURL())
		if b.Gated {
			s += " (gated: accept the terms on that page first)"
		}
		// Suggest a place under DIR that keeps the Hub file's name.
		local = path.Base(f.Hub)
		for _, c := range f.Local {
			if path.Base(c) == local {
				local = c
				break
			}
		}
	} else {
		s = "download " + path.Base(local) + " from " + b.SourceURL
	}
	return s + fmt.Sprintf(" and pass --data FILE, or --data DIR with the file at DIR/%s", local)
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	var out []string
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
