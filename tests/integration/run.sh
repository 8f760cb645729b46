#!/usr/bin/env bash
# Real-kernel integration tests: ./tests/integration/run.sh AGENT_BINARY
set -u
cd "$(dirname "$0")/../.."
export NODETRAIL_AGENT=$(readlink -f "${1:-build/nodetrail}")
exec python3 tests/integration/run.py
