package modelinfo

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/deepconf/deepconf/hub"
	"github.com/deepconf/deepconf/internal/testmodel"
)

// TestPrefix marks a generated random-weight test model: test:tiny,
// test:tiny-FAMILY, test:tiny-qwen3vocab, test:qwen3-0.6b.
const TestPrefix = "test:"

// ResolveModel returns the local GGUF file of model as deepconf run takes
// it: test:NAME is generated into the cache on first use (Q8_0, whose
// llama.cpp kernels keep traces reproducible) with a warning on log that
// its weights are random; a Hugging Face id is resolved and downloaded
// into the Hugging Face cache (quant picks the file, hub.Client.ResolveModel);
// a local file is returned as it is.
func ResolveModel(ctx context.Context, model, quant string, log io.Writer) (string, error) {
	if name, ok := strings.CutPrefix(model, TestPrefix); ok {
		opts, err := testmodel.ParseName(name)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(log, "deepconf: %s is a generated model with RANDOM weights: its outputs say nothing about any real model\n", model)
		opts.Quant, opts.Log = testmodel.QuantQ8_0, log
		return testmodel.Ensure(ctx, opts)
	}
	c, err := hub.NewFromEnv(log)
	if err != nil {
		return "", err
	}
	return c.ResolveModel(ctx, model, quant)
}
