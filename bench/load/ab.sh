#!/usr/bin/env bash
# A/B of the proxy's load counting (per-slot counters + hot-key sampling, proxy/load/): the same proxy
# with load.count true (A) and false (B), interleaved A B A B ... so drift of a shared machine hits both.
# Each run: redis-benchmark -P 16 -c 50 -r 100000, SET then GET, against a one-process proxy over two
# redis-servers, after a warm-up run. Prints every run and the median throughput of each side, and the cost in %.
#
# Usage (from a checkout, after `npx tsc -p tsconfig.json`; hold the machine's bench lock):
#   flock /tmp/redslot-test.lock bash bench/load/ab.sh [ROUNDS=5] [REQUESTS=400000]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-5}
N=${2:-400000}
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
r1=$(free_port); r2=$(free_port)
redis-server --port "$r1" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --protected-mode no >/dev/null & pids+=($!)
redis-server --port "$r2" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --protected-mode no >/dev/null & pids+=($!)
topo="{\"groups\":[{\"id\":1,\"servers\":[\"127.0.0.1:$r1\"]},{\"id\":2,\"servers\":[\"127.0.0.1:$r2\"]}],\"slots\":[[0,511,1],[512,1023,2]]}"
sleep 0.5

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

run_side() { # $1 = true|false -> prints "set_rps get_rps cpu_us_per_request"
  local port; port=$(free_port)
  REDSLOT_LOG_LEVEL=error node dist/deploy/bin/redslot.js proxy --listen "127.0.0.1:$port" --admin '' --workers 1 --topology "$topo" --load.count "$1" >/dev/null 2>&1 &
  local pp=$!
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  # Warm-up (JIT, backend connections), not measured.
  redis-benchmark -h 127.0.0.1 -p "$port" -P 16 -c 50 -r 100000 -n 200000 -t set,get -q >/dev/null 2>&1
  local out t0 t1
  t0=$(cpu_ticks "$pp")
  out=$(redis-benchmark -h 127.0.0.1 -p "$port" -P 16 -c 50 -r 100000 -n "$N" -t set,get --csv 2>/dev/null | tr -d '"' | awk -F, '$1=="SET"||$1=="GET"{printf "%s ", $2}')
  t1=$(cpu_ticks "$pp")
  kill "$pp"; wait "$pp" 2>/dev/null || true
  # Proxy CPU (user+sys) per request over both measured tests: less sensitive to a busy machine than ops/s.
  echo "$out $(awk -v d=$((t1 - t0)) -v tck="$TCK" -v n="$N" 'BEGIN {printf "%.3f", d / tck * 1e6 / (2 * n)}')"
}

a_set=(); a_get=(); a_cpu=(); b_set=(); b_get=(); b_cpu=()
for i in $(seq 1 "$ROUNDS"); do
  read -r s g u <<<"$(run_side true)"; a_set+=("$s"); a_get+=("$g"); a_cpu+=("$u"); echo "round $i A (counting on):  SET $s  GET $g  proxy CPU $u us/request"
  read -r s g u <<<"$(run_side false)"; b_set+=("$s"); b_get+=("$g"); b_cpu+=("$u"); echo "round $i B (counting off): SET $s  GET $g  proxy CPU $u us/request"
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2}'; }
for t in set get; do
  eval "a=(\"\${a_${t}[@]}\"); b=(\"\${b_${t}[@]}\")"
  ma=$(median "${a[@]}"); mb=$(median "${b[@]}")
  awk -v t="$t" -v a="$ma" -v b="$mb" 'BEGIN {printf "%s -P 16: median counting on %.0f ops/s, off %.0f ops/s, cost %.2f %%\n", toupper(t), a, b, 100*(b-a)/b}'
done
ma=$(median "${a_cpu[@]}"); mb=$(median "${b_cpu[@]}")
awk -v a="$ma" -v b="$mb" 'BEGIN {printf "proxy CPU per request: median counting on %.3f us, off %.3f us, cost %.2f %%\n", a, b, 100*(a-b)/b}'
uptime
