package main

import (
	"github.com/spf13/cobra"
)

// version is the tool version recorded in run.json.
const version = "0.1.0-dev"

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "deepconf",
		Short:         "Confidence-aware safety evaluation of language models with DeepConf",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newRunCmd(), newGenerateCmd(), newAnalyzeCmd(), newReportCmd(), newRefusalEvalCmd(), newCompareCmd(), newMergeCmd(), newSweepCmd(), newSetupCmd(), newModelsCmd(), newDataCmd(), newProbeCmd())
	return root
}
