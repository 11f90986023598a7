package main

import (
	"fmt"

	"github.com/deepconf/deepconf/internal/cliflag"
	"github.com/deepconf/deepconf/internal/nativelib"
	"github.com/spf13/cobra"
)

func newSetupCmd() *cobra.Command {
	var device string
	var tokenizer bool
	cmd := &cobra.Command{
		Use:   "setup",
		Short: "Install the pinned llama.cpp libraries (and optionally the Qwen3 tokenizer) into the project directory",
		Long: `setup installs the pinned native packages from the npm registry into .deepconf/ at the
root of the checkout (or $DEEPCONF_HOME). Every command that needs them installs them on first
use, so running setup is optional; it is idempotent.`,
		Example: `  deepconf setup
  deepconf setup --device cuda --tokenizer`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dir, err := nativelib.LlamaLibDir(ctx, nativelib.Device(device), cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "llama.cpp %s libraries (%s): %s\n", nativelib.LlamaCPPRelease, device, dir)
			if tokenizer {
				dir, err := nativelib.TokenizerDir(ctx, cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "Qwen3 tokenizer: %s\n", dir)
			}
			return nil
		},
	}
	cliflag.Enum(cmd.Flags(), &device, "device", "cpu", []string{"cpu", "cuda"}, "library build: cpu or cuda")
	cmd.Flags().BoolVar(&tokenizer, "tokenizer", false, "also install the Qwen3 tokenizer (for real-vocabulary test models)")
	return cmd
}
