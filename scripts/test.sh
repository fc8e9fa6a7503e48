#!/usr/bin/env bash
# Install nodeisle with its test dependencies, fetch the wheels the offline tests need, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --upgrade pip
python3 -m pip install --quiet -e ".[test,editor]"
# The editor's browser tests (tests/editor) drive Debian's chromium through Playwright (never
# `playwright install`), against the page built from editor/ with its committed lockfile.
./scripts/editor-deps.sh
# The suite builds real virtualenvs with uv, offline: it needs the worker runtime's websockets wheels
# (the current release, and an old one that a test library pins) in a local wheelhouse.
mkdir -p .wheelhouse
tag="cp$(python3 -c 'import sys; print(f"{sys.version_info[0]}{sys.version_info[1]}")')"
for spec in "websockets==$(python3 -c "import importlib.metadata as m; print(m.version('websockets'))")" "websockets==12.0" "numpy==$(python3 -c "import importlib.metadata as m; print(m.version('numpy'))")"; do
  name="${spec/==/-}"
  ls .wheelhouse/"${name}"-"${tag}"-*.whl >/dev/null 2>&1 || \
    python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .wheelhouse "$spec"
done
# Workers of libraries whose requires-python this Python does not satisfy run on 3.12 or 3.13
# (tests/orchestrator/test_interpreters.py): websockets wheels for those too.
ws_version="$(python3 -c "import importlib.metadata as m; print(m.version('websockets'))")"
for pyver in 3.12 3.13; do
  ls .wheelhouse/websockets-"${ws_version}"-cp"${pyver/./}"-*.whl >/dev/null 2>&1 || \
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$pyver" --dest .wheelhouse \
      "websockets==${ws_version}"
done
# System packages the containment tests need (bubblewrap), installed only if missing.
./scripts/containment-deps.sh
# The linters are part of the suite: ruff (style, complexity and argument-count rules) and mypy --strict.
python3 -m ruff check src tests
python3 -m mypy --strict src/nodeisle src/griptape_nodes
exec python3 -m pytest "$@"
