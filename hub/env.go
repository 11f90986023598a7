package hub

import (
	"context"
	"io"
)

// NewFromEnv returns a client configured from the environment
// (ConfigFromEnv) that logs its downloads to log.
func NewFromEnv(log io.Writer) (*Client, error) {
	cfg, err := ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	cfg.Log = log
	return New(cfg)
}

// FetchDataset downloads file of the dataset repository repo at
// DefaultRevision into the cache (HF_TOKEN for gated ones) and returns its
// path; it is a benchmark.FetchFunc.
func (c *Client) FetchDataset(ctx context.Context, repo, file string) (string, error) {
	return c.Download(ctx, Dataset, repo, DefaultRevision, file)
}
