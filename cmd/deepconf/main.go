// Command deepconf samples several responses per safety-benchmark prompt from
// a language model, measures their token-level confidence with DeepConf,
// detects refusals, and tests whether low-confidence compliance is riskier
// than confident compliance.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "deepconf:", err)
		os.Exit(1)
	}
}
