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
# The page's build tools (vite and its plugins, from the lockfile) need Node.js 20.19+ or 22.12+.
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)' || {
  echo "error: Node.js $(node --version) is too old to build the editor's page: install Node.js 20.19+ or 22.12+ (for example from https://nodejs.org or NodeSource), then run this again" >&2
  exit 2
}
npm ci --prefix editor --no-audit --no-fund --loglevel=error
npm run build --prefix editor --silent
