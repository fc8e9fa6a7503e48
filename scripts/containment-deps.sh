#!/usr/bin/env bash
# What the containment tests need from the system (docs/containment.md): bubblewrap, the sandbox.
# Installed only if missing, and only where we may (root, with apt-get): elsewhere the sandbox
# tests say which package to install, and the rest of the suite runs.
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y --no-install-recommends bubblewrap >/dev/null || \
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends bubblewrap >/dev/null; }
else
  echo "note: bubblewrap (bwrap) is not installed; the sandbox tests need it: apt-get install bubblewrap" >&2
fi
