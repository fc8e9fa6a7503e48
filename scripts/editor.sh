#!/usr/bin/env bash
# Install nodeisle with its editor, build the editor's page, and open the editor on the conflict demo
# (two libraries pinning pydantic 1 and 2, Isolated; their envs are fetched from PyPI on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet -e ".[editor]"
NODEISLE_SKIP_CHROMIUM=1 ./scripts/editor-deps.sh   # the editor opens your own browser
exec python3 -m nodeisle editor examples/workflows/pydantic_versions.json "$@"
