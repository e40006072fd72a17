#!/bin/sh
# Registers the Redis groups of redis-groups.yaml with the dashboard and spreads the slots over them,
# through the `redslot` CLI (run by the redslot-bootstrap Job, image deploy/image/Dockerfile, cwd /app).
# Idempotent, so the Job can run any number of times:
#   - a group is created only if the dashboard does not know it;
#   - a server is added only if no group lists its address yet (member 0 as master, the others replicas);
#   - slots are assigned (--even) only while EVERY slot is still offline: after that the slot table belongs
#     to the operator (rebalance, migrations) and a re-run must never touch it.
# Environment:
#   REDSLOT_DASHBOARD         dashboard URL (http://redslot-dashboard:18080)
#   REDSLOT_TOKEN             operator token (from the redslot-tokens Secret)
#   REDSLOT_BOOTSTRAP_GROUPS  "<group id>=<StatefulSet>:<members> ...", e.g. "1=redis-group-1:2 2=redis-group-2:2"
#   REDSLOT_REDIS_PORT        Redis port in the groups (6379)
set -eu

: "${REDSLOT_DASHBOARD:?REDSLOT_DASHBOARD is required}"
: "${REDSLOT_TOKEN:?REDSLOT_TOKEN is required}"
: "${REDSLOT_BOOTSTRAP_GROUPS:?REDSLOT_BOOTSTRAP_GROUPS is required}"
port="${REDSLOT_REDIS_PORT:-6379}"
export REDSLOT_TOKEN

redslot() { node dist/shared/bin/redslot.js "$@" --dashboard "$REDSLOT_DASHBOARD"; }
log() { echo "bootstrap: $*"; }

# Reads JSON on stdin, evaluates a JS expression over it as `d`, prints the result.
jq_node() { node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => { const d = JSON.parse(s); console.log(eval(process.argv[1])); });' "$1"; }

# 1. Wait until the dashboard answers with a leader (it is started by the same `kubectl apply`).
tries=0
until status="$(redslot status --json 2>&1)"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then log "dashboard not reachable after 10 minutes: $status"; exit 1; fi
  log "waiting for the dashboard ($status)"
  sleep 5
done

# 2. Groups and servers.
for entry in $REDSLOT_BOOTSTRAP_GROUPS; do
  gid="${entry%%=*}"
  rest="${entry#*=}"
  sts="${rest%%:*}"
  members="${rest#*:}"
  groups="$(redslot group list --json)"
  if [ "$(printf '%s' "$groups" | jq_node "d.some((g) => g.id === $gid)")" = "true" ]; then
    log "group $gid exists"
  else
    log "creating group $gid"
    redslot group create --group "$gid"
    groups="$(redslot group list --json)"
  fi
  i=0
  while [ "$i" -lt "$members" ]; do
    addr="${sts}-${i}.${sts}:${port}"
    if [ "$(printf '%s' "$groups" | jq_node "d.some((g) => g.servers.some((s) => s.addr === '$addr'))")" = "true" ]; then
      log "server $addr already registered"
    else
      log "adding $addr to group $gid"
      redslot server add --group "$gid" --addr "$addr"
    fi
    i=$((i + 1))
  done
done

# 3. Slots, only on a brand-new cluster.
slots="$(redslot slots list --json)"
if [ "$(printf '%s' "$slots" | jq_node 'd.every((s) => s.group === 0 && !s.action)')" = "true" ]; then
  log "assigning all slots evenly"
  redslot slots assign --even
else
  log "slots already assigned: leaving the slot table alone"
fi
redslot status
log "done"
