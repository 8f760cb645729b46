#!/usr/bin/env bash
# make bench: exec throughput with no tracer / nodetrail / execsnoop (ROUNDS=, DURATION= to change)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 tests/bench/exec_throughput.py "$(readlink -f "${1:-build/nodetrail}")"
