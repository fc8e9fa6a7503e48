#!/usr/bin/env bash
# What the editor needs besides Python: Node.js to build its page (npm ci, then the build script of
# editor/package.json, into src/nodeisle/editor/static), and Debian's chromium for the browser tests.
# Installs Debian packages only when they are missing, non-interactively; as root, or through sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
apt_install() {
  local runner=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "error: $* missing: install it (apt-get install -y $*) as root" >&2; exit 2; }
    runner=(sudo -n)
  fi
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${runner[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
if [ "${NODEISLE_SKIP_CHROMIUM:-}" != 1 ] && ! [ -x /usr/bin/chromium ]; then
  apt_install chromium
fi
command -v npm >/dev/null || apt_install nodejs npm
npm ci --prefix editor --no-audit --no-fund --loglevel=error
npm run build --prefix editor --silent
