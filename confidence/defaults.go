package confidence

// The paper's settings (arXiv 2508.15260; see docs/method.md). They are
// reference values for reproductions of the paper, not the defaults of this
// project's safety runs, which the controller chooses.
const (
	// PaperK is k, the number of top log-probabilities per token.
	PaperK = 20
	// PaperWindow is the group (window) size W.
	PaperWindow = 2048
	// PaperTail is the number of final tokens of the tail confidence.
	PaperTail = 2048
	// PaperBottomFraction is the fraction of lowest windows of the
	// bottom-10% group confidence.
	PaperBottomFraction = 0.1
	// PaperWarmup is N_init, the number of warm-up traces.
	PaperWarmup = 16
	// PaperKeepLow is η of DeepConf-low (keep the top 10%: the threshold
	// is the 90th percentile).
	PaperKeepLow = 0.1
	// PaperKeepHigh is η of DeepConf-high (keep the top 90%: the
	// threshold is the 10th percentile).
	PaperKeepHigh = 0.9
	// PaperTau is τ, the consensus level that ends sampling.
	PaperTau = 0.95
	// PaperBudget is B, the headline trace budget.
	PaperBudget = 512
	// PaperFixedThreshold is the hard-coded group-confidence threshold of
	// the paper's vLLM patch (App. G.4) when no warm-up is run.
	PaperFixedThreshold = 17.0
)
