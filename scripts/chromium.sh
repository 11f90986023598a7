#!/usr/bin/env bash
# Installs Debian's headless-capable Chromium for the report's browser test
# (report.TestChromium), if it is missing. CI runs as root; elsewhere the
# script uses sudo when it is available without a password. It prints the
# browser's path on success and exits non-zero when it cannot install.
set -euo pipefail
for b in /usr/bin/chromium /usr/bin/chromium-browser; do
	if [ -x "$b" ]; then
		echo "$b"
		exit 0
	fi
done
if [ "$(id -u)" -eq 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	SUDO=(sudo -n)
else
	echo "chromium.sh: /usr/bin/chromium is missing and installing it needs root" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# Parallel test binaries may call this script at once: the first installs,
# the others wait for it and then find the browser.
exec 9>"${TMPDIR:-/tmp}/deepconf-chromium.lock"
flock 9
if [ -x /usr/bin/chromium ]; then
	echo /usr/bin/chromium
	exit 0
fi
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
"${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium >&2
if [ ! -x /usr/bin/chromium ]; then
	echo "chromium.sh: apt-get finished but /usr/bin/chromium is missing" >&2
	exit 1
fi
echo /usr/bin/chromium
