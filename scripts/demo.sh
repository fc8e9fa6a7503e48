#!/usr/bin/env bash
# Install nodeisle and run the demo: two libraries pinning pydantic 1 and pydantic 2, Isolated, in one flow.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet -e .
exec nodeisle run examples/workflows/pydantic_versions.json "$@"
