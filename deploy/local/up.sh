#!/usr/bin/env bash
# Quick start: install what is missing (Debian packages, npm packages), build, start a local cluster.
# Extra arguments go to `redslot up` (e.g. --groups 3 --replicas 1 --etcd).
set -euo pipefail
cd "$(dirname "$0")/../.."
bash deploy/local/install-deps.sh
npm run build --silent
exec node dist/deploy/bin/redslot.js up "$@"
