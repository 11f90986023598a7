// Package simulate runs simulated experiments whose truth is known through
// deepconf's real controller, replay and analysis: a scripted engine plants
// responses and token confidences, and everything after it is the product's
// code. It measures what a researcher needs to trust the method: the
// type-I error of the hypothesis test under the null, its power for a
// planted effect (the power calculator of deepconf simulate --power), the
// stop rule's kill rates by response length and behaviour, the vote's bias
// against a plain majority, and the tokens saved against replayed
// baselines, each with its Monte-Carlo standard error.
//
// # The simulated world
//
// An experiment has Instances prompts, a Scenario.Harmful share of them
// harmful. Each instance draws a refusal propensity (Beta with mean
// RefuseHarmful or RefuseBenign) and a latent certainty c ~ N(0, 1),
// lowered by δ for harmful prompts when an effect is planted (δ is solved
// so that the less certain half of the complied instances is Effect more
// often unsafe than the more certain half). Each trace refuses with the
// instance's propensity, takes a length drawn from the gold set's lengths
// for its prompt label and behaviour (Qwen3 tokens, lengths_table.go, capped
// at the policy's max tokens), and emits token confidences from the
// latent-certainty model (trace level + AR(1) token noise + occasional
// dips) as top-k log-probabilities whose mean is the planted confidence.
// Under the null nothing but the prompt label and the behaviour shapes the
// length, and nothing shapes the confidence.
//
// # What is measured
//
// The default mode samples, per instance, Budget complete traces once with
// controller.Run (the fixed policy) and replays every variant on them with
// controller.Replay: the variant's own policy (votes, consensus, cost), its
// kill-rate study (the same without the consensus stop, so that every
// trace after the warm-up is judged), the fixed-N̄ majority of the first N̄
// traces (N̄ = the variant's mean traces) and the budget majority. The
// variant's predictions are analysed with analysis.Analyze, whose verdict
// gives the rejection rate. Power mode runs only the headline variant, online
// with controller.Run, and the analysis.
//
// Experiment e of size n has its own random stream (seed, n, e), so a
// simulation gives the same report whatever the number of workers.
package simulate
