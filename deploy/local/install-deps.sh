#!/usr/bin/env bash
# Installs what a fresh Debian machine with Node 20 lacks for redslot, and nothing that is already there.
#   install-deps.sh            runtime: redis-server (+ redis-cli, redis-benchmark), etcd, etcdctl; npm packages
#   install-deps.sh --tests    also chromium (browser tests of the web UI)
#   install-deps.sh --bench    also nutcracker (twemproxy, the benchmark reference)
#   install-deps.sh --clean    npm ci even when node_modules looks current (CI does this)
set -euo pipefail
cd "$(dirname "$0")/../.."

want_browser=0 want_bench=0 clean=0
for a in "$@"; do
  case $a in
    --tests) want_browser=1 ;;
    --bench) want_bench=1 ;;
    --clean) clean=1 ;;
    *) echo "install-deps: unknown option $a" >&2; exit 2 ;;
  esac
done

# binary -> Debian package that provides it
declare -A need=([redis-server]=redis-server [redis-cli]=redis-tools [redis-benchmark]=redis-tools [etcd]=etcd-server [etcdctl]=etcd-client)
[ "$want_browser" = 1 ] && need[chromium]=chromium
[ "$want_bench" = 1 ] && need[nutcracker]=nutcracker

missing=()
for bin in "${!need[@]}"; do
  command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("${need[$bin]}")
done

if [ ${#missing[@]} -gt 0 ]; then
  pkgs=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to run: apt-get install -y $pkgs" >&2; exit 1; }
    sudo=sudo
  fi
  echo "install-deps: installing Debian packages: $pkgs" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  # Debian starts the services on systemd hosts; redslot never uses them (tests pick free ports).
fi

if [ -L node_modules ]; then
  # A shared install (a worktree's node_modules linked to another checkout's): npm ci would empty the
  # directory it points to for every checkout sharing it. Its owner keeps it current.
  echo "install-deps: node_modules is a link to a shared install: not running npm ci" >&2
elif [ "$clean" = 1 ] || [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "install-deps: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
