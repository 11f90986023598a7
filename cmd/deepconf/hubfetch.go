package main

import (
	"context"
	"io"

	"github.com/deepconf/deepconf/benchmark"
	"github.com/deepconf/deepconf/hub"
)

// hubFetch returns a benchmark.FetchFunc that downloads dataset files from
// the Hugging Face Hub (HF_TOKEN for gated ones) into the standard cache.
func hubFetch(log io.Writer) (benchmark.FetchFunc, error) {
	c, err := hubClient(log)
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context, repo, file string) (string, error) {
		return c.Download(ctx, hub.Dataset, repo, hub.DefaultRevision, file)
	}, nil
}
