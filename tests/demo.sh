#!/usr/bin/env bash
# make demo: the agent plus a few scripted runc containers, printing the records it wrote.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 tests/demo.py "$(readlink -f "${1:-build/nodetrail}")"
