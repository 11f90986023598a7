#!/usr/bin/env bash
# scripts/ollama.sh: a real OpenAI-compatible server for the tests.
#
# Builds Ollama v0.17.4 from the Go module proxy (docs/design.md §3 says
# what deepconf needs from it), serves a generated real-vocabulary Qwen3
# test model and prints the variables the engine/openai integration tests read:
#
#   scripts/ollama.sh build             # binary in the cache below (once per machine)
#   eval "$(scripts/ollama.sh start)"   # start the server, export DEEPCONF_OLLAMA_*
#   go test -run Ollama ./engine/openai/
#   scripts/ollama.sh stop
#
# start prints (and writes to .deepconf/ollama/env):
#   DEEPCONF_OLLAMA_URL           http://127.0.0.1:PORT
#   DEEPCONF_OLLAMA_MODEL         deepconf-tiny: Qwen3's chat template, for chat mode
#   DEEPCONF_OLLAMA_RAW_MODEL     deepconf-tiny-raw: TEMPLATE {{ .Prompt }}
#   DEEPCONF_OLLAMA_NUM_PARALLEL  the server's OLLAMA_NUM_PARALLEL
#
# The binary is built once per machine into a cache outside the clone,
# DEEPCONF_OLLAMA_CACHE (default ~/.cache/deepconf/ollama-v0.17.4-<march>), from
# a copy of the stub header kept there too: the Go build cache keys the C/C++
# compilation on the -I path, so a path inside the clone would make every new
# clone recompile llama.cpp (about 3 minutes). Everything else goes under the
# git-ignored .deepconf/ollama/: models/ (OLLAMA_MODELS), the test model,
# Modelfiles, serve.log, serve.pid, env and the logs of the steps. Only the
# export lines go to stdout; progress goes to stderr. build and start are
# idempotent; start builds first.
#
# Environment: OLLAMA_PORT (default: a free port chosen by the kernel),
# OLLAMA_NUM_PARALLEL (default 4), DEEPCONF_OLLAMA_THREADS (the models'
# num_thread, default 1), DEEPCONF_OLLAMA_MARCH (default x86-64-v3: the -march
# of the C/C++ build; "native" is faster on the build machine only).
set -euo pipefail

readonly VERSION=0.17.4
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly DIR=$ROOT/.deepconf/ollama
readonly MARCH=${DEEPCONF_OLLAMA_MARCH:-x86-64-v3}
readonly CACHE=${DEEPCONF_OLLAMA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deepconf/ollama-v$VERSION-$MARCH}
readonly BIN=$CACHE/bin/ollama
readonly STUB=$CACHE/stub
readonly MODEL_NAME=deepconf-tiny
readonly THREADS=${DEEPCONF_OLLAMA_THREADS:-1}

log() { printf 'ollama.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# binary_ok reports whether $BIN exists and says it is version $VERSION.
# OLLAMA_HOST points at a closed port so that --version never talks to a server.
binary_ok() {
	[[ -x $BIN ]] || return 1
	local out
	out=$(OLLAMA_HOST=127.0.0.1:1 "$BIN" --version 2>&1 || true)
	[[ $out == *"client version is $VERSION"* ]]
}

# install_headers installs the Debian packages that replace llama.cpp's
# vendor/ directory, which the module zip omits (nlohmann/json, stb_image).
install_headers() {
	if [[ -f /usr/include/nlohmann/json_fwd.hpp && -f /usr/include/stb/stb_image.h ]]; then
		return
	fi
	local sudo=()
	if [[ $(id -u) -ne 0 ]]; then
		command -v sudo >/dev/null || die "need root or sudo to apt-get install nlohmann-json3-dev libstb-dev"
		sudo=(sudo)
	fi
	log "installing nlohmann-json3-dev libstb-dev"
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nlohmann-json3-dev libstb-dev >/dev/null; then
		"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
		"${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends nlohmann-json3-dev libstb-dev >/dev/null
	fi
}

cmd_build() {
	mkdir -p "$DIR" "$CACHE/bin"
	exec 8>"$CACHE/build.lock"
	flock 8
	if binary_ok; then
		log "$BIN is version $VERSION"
		return
	fi
	install_headers
	rm -rf "$STUB"
	cp -R "$ROOT/scripts/ollama-stub" "$STUB"
	log "building ollama v$VERSION (about 4 min on 2 cores, once per machine; log: $CACHE/build.log)"
	local start=$SECONDS
	# The -ldflags set the version that `ollama --version` and GET /api/version
	# report; a module-proxy build says 0.0.0 otherwise. -march matters: ggml's
	# own cgo flags have none and a baseline build runs 3–12× slower.
	(
		cd "$CACHE"
		CGO_ENABLED=1 \
			CGO_CPPFLAGS="-I$STUB" \
			CGO_CFLAGS="-O3 -march=$MARCH" \
			CGO_CXXFLAGS="-O3 -march=$MARCH" \
			GOBIN="$CACHE/bin" \
			go install -ldflags="-X github.com/ollama/ollama/version.Version=$VERSION" \
			"github.com/ollama/ollama@v$VERSION"
	) >"$CACHE/build.log" 2>&1 || { tail -n 30 "$CACHE/build.log" >&2; die "go install failed (log: $CACHE/build.log)"; }
	binary_ok || die "$BIN does not report version $VERSION after the build"
	log "built $BIN in $((SECONDS - start)) s"
}

# running reports whether the pid file names a live process of $BIN (not
# another process that got the pid of a server that died).
running() {
	[[ -f $DIR/serve.pid ]] || return 1
	local pid
	pid=$(cat "$DIR/serve.pid")
	[[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$BIN" ]]
}

# answers reports whether an Ollama server answers at $1 (host:port).
answers() {
	curl -fsS --max-time 2 "http://$1/api/version" >/dev/null 2>&1
}

print_env() {
	cat "$DIR/env"
}

# ensure_model generates the real-vocabulary tiny Qwen3 model if missing.
ensure_model() {
	local gguf=$DIR/tiny-qwen3vocab-Q8_0.gguf
	if [[ ! -s $gguf ]]; then
		log "generating $gguf"
		(cd "$ROOT" && go run ./cmd/deepconf models gen --shape tiny-qwen3vocab --quant Q8_0 --out "$gguf.tmp") \
			>"$DIR/gen.log" 2>&1 || { tail -n 20 "$DIR/gen.log" >&2; die "model generation failed (log: $DIR/gen.log)"; }
		mv "$gguf.tmp" "$gguf"
	fi
	printf '%s\n' "$gguf"
}

# write_modelfiles writes the Modelfiles of the two model names; both use the
# same GGUF (one blob in OLLAMA_MODELS).
#
# Ollama does not run a GGUF's Jinja chat template: `ollama create` matches it
# against Ollama's own Go templates by edit distance, Qwen3's template matches
# none, and the model is left with the bare "{{ .Prompt }}" default. So
# $MODEL_NAME gets a Go template that renders a system and a user message
# exactly like engine.RenderQwen3 (Qwen3's tokenizer_config.json template for
# one user turn), with the empty think block when thinking is off
# (reasoning_effort "none" on /v1, think=false on /api/chat). It does not use
# .Thinking, so Ollama infers no thinking capability and runs no thinking
# parser: <think> tokens stay in the content, with their logprobs.
#
# /v1/completions has no "raw" member and Ollama applies the model's template
# to the prompt, so a client-rendered prompt would be templated twice.
# $MODEL_NAME-raw has TEMPLATE {{ .Prompt }} and passes the prompt through
# unchanged: use it with the client's completions mode.
#
# num_thread is 1 by default: the tiny model needs no more, and on a shared
# 2-core machine ggml's spinning thread barrier made 2 threads 16× slower
# (18 vs 300 tokens/s measured while another process kept both cores busy).
write_modelfiles() {
	local gguf=$1
	cat >"$DIR/Modelfile.tmp" <<EOF
# Generated by scripts/ollama.sh: Qwen3's chat template, for chat mode.
FROM $gguf
TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ if and \$.IsThinkSet (not \$.Think) }}<think>

</think>

{{ end }}"""
PARAMETER stop <|im_end|>
PARAMETER stop <|endoftext|>
PARAMETER num_thread $THREADS
EOF
	mv "$DIR/Modelfile.tmp" "$DIR/Modelfile"
	cat >"$DIR/Modelfile-raw.tmp" <<EOF
# Generated by scripts/ollama.sh: the prompt passes through, for completions mode.
FROM $gguf
TEMPLATE """{{ .Prompt }}"""
PARAMETER stop <|im_end|>
PARAMETER stop <|endoftext|>
PARAMETER num_thread $THREADS
EOF
	mv "$DIR/Modelfile-raw.tmp" "$DIR/Modelfile-raw"
}

cmd_start() {
	cmd_build
	exec 9>"$DIR/start.lock"
	flock 9
	if running; then
		local url=""
		[[ -f $DIR/env ]] && url=$(sed -n 's|^export DEEPCONF_OLLAMA_URL=http://||p' "$DIR/env")
		if [[ -n $url ]] && answers "$url"; then
			log "already running (pid $(cat "$DIR/serve.pid"))"
			print_env
			return
		fi
		log "restarting a server that does not answer"
		cmd_stop
	fi
	rm -f "$DIR/env" "$DIR/serve.pid"
	local gguf
	gguf=$(ensure_model)
	mkdir -p "$DIR/models"

	local port=${OLLAMA_PORT:-0} parallel=${OLLAMA_NUM_PARALLEL:-4} start=$SECONDS
	: >"$DIR/serve.log"
	# setsid: the server and its runner subprocesses get their own process
	# group, which stop signals as a whole.
	OLLAMA_HOST=127.0.0.1:$port \
		OLLAMA_MODELS=$DIR/models \
		OLLAMA_NUM_PARALLEL=$parallel \
		OLLAMA_KEEP_ALIVE=30m \
		OLLAMA_NOPRUNE=1 \
		HOME=$DIR \
		setsid "$BIN" serve >>"$DIR/serve.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$DIR/serve.pid"

	# With port 0 the kernel picks the port; the log line
	# "Listening on 127.0.0.1:PORT (version 0.17.4)" names it.
	local addr=""
	for _ in $(seq 1 600); do
		kill -0 "$pid" 2>/dev/null || { tail -n 20 "$DIR/serve.log" >&2; die "ollama serve exited (log: $DIR/serve.log)"; }
		addr=$(sed -n 's/.*Listening on \(127\.0\.0\.1:[0-9]*\) .*/\1/p' "$DIR/serve.log" | tail -n 1)
		if [[ -n $addr ]] && answers "$addr"; then
			break
		fi
		addr=""
		sleep 0.1
	done
	[[ -n $addr ]] || die "ollama serve did not answer within 60 s (log: $DIR/serve.log)"
	log "serving on $addr (pid $pid) after $((SECONDS - start)) s"

	write_modelfiles "$gguf"
	local name
	for name in "$MODEL_NAME" "$MODEL_NAME-raw"; do
		local mf=$DIR/Modelfile
		[[ $name == *-raw ]] && mf=$DIR/Modelfile-raw
		OLLAMA_HOST=$addr "$BIN" create "$name" -f "$mf" >"$DIR/create.log" 2>&1 ||
			{ tail -n 20 "$DIR/create.log" >&2; die "ollama create $name failed (log: $DIR/create.log)"; }
	done
	log "registered $MODEL_NAME and $MODEL_NAME-raw"
	cat >"$DIR/env" <<EOF
export DEEPCONF_OLLAMA_URL=http://$addr
export DEEPCONF_OLLAMA_MODEL=$MODEL_NAME
export DEEPCONF_OLLAMA_RAW_MODEL=$MODEL_NAME-raw
export DEEPCONF_OLLAMA_NUM_PARALLEL=$parallel
EOF
	print_env
}

cmd_stop() {
	if ! [[ -f $DIR/serve.pid ]]; then
		log "not running (no $DIR/serve.pid)"
		return
	fi
	local pid
	pid=$(cat "$DIR/serve.pid")
	if running; then
		# The server's process group (setsid in start) includes its runners.
		kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid"
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid"
		fi
		log "stopped pid $pid"
	else
		log "pid $pid was not running"
	fi
	rm -f "$DIR/serve.pid" "$DIR/env"
}

case ${1:-} in
build) cmd_build ;;
start) cmd_start ;;
stop) cmd_stop ;;
*)
	echo "usage: $0 build|start|stop" >&2
	exit 2
	;;
esac
