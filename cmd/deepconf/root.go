package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/spf13/cobra"
)

// version is the tool version recorded in run.json.
const version = "0.1.0-dev"

func newRootCmd() *cobra.Command {
	var cpuProfile string
	var profile *os.File
	root := &cobra.Command{
		Use:           "deepconf",
		Short:         "Confidence-aware safety evaluation of language models with DeepConf",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return err
			}
			profile = f
			return pprof.StartCPUProfile(f)
		},
		PersistentPostRunE: func(*cobra.Command, []string) error {
			if profile == nil {
				return nil
			}
			pprof.StopCPUProfile()
			if err := profile.Close(); err != nil {
				return fmt.Errorf("cpu profile: %w", err)
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(cliflag.ErrorFunc)
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile (go tool pprof) to this file")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.AddCommand(newRunCmd(), newSimulateCmd(), newGenerateCmd(), newAnalyzeCmd(), newReportCmd(), newRefusalEvalCmd(), newRefusalTrainCmd(), newCompareCmd(),
		newMergeCmd(), newSweepCmd(), newBenchCmd(), newSetupCmd(), newModelsCmd(), newDataCmd(), newProbeCmd())
	root.AddCommand(newServeCmd())
	return root
}
