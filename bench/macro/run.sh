#!/usr/bin/env bash
# npm run bench: installs what the benchmark needs (redis-benchmark, nutcracker), then runs bench/macro/run.ts.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/install-deps.sh --bench
exec node --import tsx bench/macro/run.ts "$@"
