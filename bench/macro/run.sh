#!/usr/bin/env bash
# npm run bench: installs what the benchmark needs (redis-benchmark, nutcracker), raises the open-files
# limit (10,000 client connections need ~10,200 descriptors on each side of a proxy), then runs
# bench/macro/run.ts. See the Performance section of README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/install-deps.sh --bench
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ] || [ "$hard" -gt 65536 ]; then ulimit -n 65536; else ulimit -n "$hard"; fi
exec node --import tsx bench/macro/run.ts "$@"
