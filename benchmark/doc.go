// Package benchmark loads the safety benchmarks that deepconf evaluates:
// their prompts, gold prompt labels (harmful / benign), categories and, where
// the benchmark has them, gold responses with human refusal labels.
//
// Files are read in the formats their authors publish (CSV, JSONL,
// Parquet), streaming one row at a time. Malformed input gives a
// *ParseError naming the file, the line or row and the field; missing
// columns list the available ones. [Load] reads a registered benchmark from
// a local file or directory, or through a [FetchFunc] from the Hugging Face
// Hub (this package does no HTTP itself). [LoadMapped] reads any CSV, TSV,
// JSONL or Parquet file with a [Mapping] of its fields.
//
// # Benchmarks
//
// Instance IDs follow the Python prototype's scheme <bench>_<split>_<i>,
// where i is the 0-based data row in file order (docs/prototype.md §10):
//
//	toxicchat           toxicchat_test_<i>
//	wildguardmix        wildguardmix_test_<i>
//	xstest              xstest_test_<i>
//	xstest-completions  xstest_completions_<model>_<i>   (model: gpt4, llama2new, llama2orig, mistralguard, mistralinstruct)
//	harmbench           harmbench_test_<i>
//	advbench            advbench_test_<i>
//	jailbreakbench      jailbreakbench_harmful_<i>, then jailbreakbench_benign_<i>
//	simplesafetytests   simplesafetytests_test_<i>
//	synthetic           synthetic_unsafe_<i>, then synthetic_safe_<i>
//
// Sources ([Benchmarks] has the details): ToxicChat, the Hub CSV
// data/0124/toxic-chat_annotation_test.csv of lmsys/toxic-chat (config
// toxicchat0124) or a JSONL export; WildGuardTest, test/wildguard_test.parquet
// of allenai/wildguardmix (gated; config wildguardtest) or a JSONL export;
// XSTest, xstest_prompts.csv (Paul/XSTest on the Hub, and the authors'
// GitHub repository) and the five v2 completion CSVs of the authors'
// repository (a Parquet copy is on the Hub); HarmBench and AdvBench, the
// authors' CSVs on GitHub (not on the Hub in that format); JBB-Behaviors,
// data/harmful-behaviors.csv and data/benign-behaviors.csv of
// JailbreakBench/JBB-Behaviors; SimpleSafetyTests, sst_test_cases.csv of
// Bertievidgen/SimpleSafetyTests or the GitHub CSV.
//
// Label mappings reproduce the prototype where it had the benchmark:
// ToxicChat toxicity 1 → harmful, 0 → benign (category "toxic" for every
// row, as the prototype); WildGuardTest prompt_harm_label harmful /
// unharmful, a null label → unknown, which [Instance.PrototypeGroundTruth] maps
// to the prototype's "safe"; HarmBench prompt = ContextString + " " +
// Behavior when there is a context string, else Behavior, always harmful.
// XSTest prompts are labelled safe / unsafe; its v2 completion files have
// no prompt label, and the unsafe prompts are exactly the contrast_* types.
// Gold refusal labels: WildGuardTest response_refusal_label (refusal /
// compliance) and XSTest v2 final_label (full compliance / full refusal /
// partial refusal).
//
// # Licences and citations
//
// The data files are not part of deepconf; each keeps its licence.
// ToxicChat is non-commercial.
//
//   - ToxicChat — CC-BY-NC-4.0. Lin, Wang, Tong, Wang, Guo, Wang, Shang (2023).
//     ToxicChat: Unveiling Hidden Challenges of Toxicity Detection in
//     Real-World User-AI Conversation. Findings of EMNLP 2023. arXiv:2310.17389.
//   - WildGuardMix / WildGuardTest — ODC-BY-1.0 (gated). Han, Rao, Ettinger,
//     Jiang, Lin, Lambert, Choi, Dziri (2024). WildGuard: Open One-Stop
//     Moderation Tools for Safety Risks, Jailbreaks, and Refusals of LLMs.
//     NeurIPS 2024 Datasets and Benchmarks. arXiv:2406.18495.
//   - XSTest — CC-BY-4.0 (prompts; completions under the models' licences).
//     Röttger, Kirk, Vidgen, Attanasio, Bianchi, Hovy (2024). XSTest: A Test
//     Suite for Identifying Exaggerated Safety Behaviours in Large Language
//     Models. NAACL 2024. arXiv:2308.01263.
//   - HarmBench — MIT. Mazeika, Phan, Yin, Zou, Wang, Mu, Sakhaee, Li, Basart,
//     Li, Forsyth, Hendrycks (2024). HarmBench: A Standardized Evaluation
//     Framework for Automated Red Teaming and Robust Refusal. ICML 2024.
//     arXiv:2402.04249.
//   - AdvBench — MIT. Zou, Wang, Carlini, Nasr, Kolter, Fredrikson (2023).
//     Universal and Transferable Adversarial Attacks on Aligned Language
//     Models. arXiv:2307.15043.
//   - JailbreakBench (JBB-Behaviors) — MIT. Chao, Debenedetti, Robey,
//     Andriushchenko, Croce, Sehwag, Dobriban, Flammarion, Pappas, Tramèr,
//     Hassani, Wong (2024). JailbreakBench: An Open Robustness Benchmark for
//     Jailbreaking Large Language Models. NeurIPS 2024 Datasets and
//     Benchmarks. arXiv:2404.01318.
//   - SimpleSafetyTests — CC-BY-4.0 (GitHub release; the Hub card says
//     CC-BY-2.0). Vidgen, Scherrer, Kirk, Qian, Kannappan, Hale, Röttger
//     (2023). SimpleSafetyTests: a Test Suite for Identifying Critical Safety
//     Risks in Large Language Models. arXiv:2311.08370.
package benchmark

// Short citations used in the registry.
const (
	citeToxicChat      = "Lin et al. (2023), ToxicChat: Unveiling Hidden Challenges of Toxicity Detection in Real-World User-AI Conversation, Findings of EMNLP 2023, arXiv:2310.17389"
	citeWildGuard      = "Han et al. (2024), WildGuard: Open One-Stop Moderation Tools for Safety Risks, Jailbreaks, and Refusals of LLMs, NeurIPS 2024 D&B, arXiv:2406.18495"
	citeXSTest         = "Röttger et al. (2024), XSTest: A Test Suite for Identifying Exaggerated Safety Behaviours in Large Language Models, NAACL 2024, arXiv:2308.01263"
	citeHarmBench      = "Mazeika et al. (2024), HarmBench: A Standardized Evaluation Framework for Automated Red Teaming and Robust Refusal, ICML 2024, arXiv:2402.04249"
	citeAdvBench       = "Zou et al. (2023), Universal and Transferable Adversarial Attacks on Aligned Language Models, arXiv:2307.15043"
	citeJailbreakBench = "Chao et al. (2024), JailbreakBench: An Open Robustness Benchmark for Jailbreaking Large Language Models, NeurIPS 2024 D&B, arXiv:2404.01318"
	citeSST            = "Vidgen et al. (2023), SimpleSafetyTests: a Test Suite for Identifying Critical Safety Risks in Large Language Models, arXiv:2311.08370"
)
