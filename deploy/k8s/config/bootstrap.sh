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
#   REDSLOT_BOOTSTRAP_GROUPS  "<group id>=<master host:port>,<replica host:port>... <group id>=...", e.g.
#                             "1=redis-group-1-0.redis-group-1:6379,redis-group-1-1.redis-group-1:6379 2=..."
#                             (the master first; replicas must already replicate it, as redis-start.sh does)
set -eu

: "${REDSLOT_DASHBOARD:?REDSLOT_DASHBOARD is required}"
: "${REDSLOT_TOKEN:?REDSLOT_TOKEN is required}"
: "${REDSLOT_BOOTSTRAP_GROUPS:?REDSLOT_BOOTSTRAP_GROUPS is required}"
export REDSLOT_TOKEN

# The CLI of the image (cwd /app); REDSLOT_CLI overrides it (tests run the TypeScript source).
cli="${REDSLOT_CLI:-node dist/deploy/bin/redslot.js}"
# shellcheck disable=SC2086 # $cli is a command line on purpose
redslot() { $cli "$@" --dashboard "$REDSLOT_DASHBOARD"; }
log() { echo "bootstrap: $*"; }

# `js EXPR` evaluates EXPR over the JSON in $status (as `d`) and prints the result.
js() { printf '%s' "$status" | node -e 'let s = ""; process.stdin.on("data", (c) => (s += c)).on("end", () => { const d = JSON.parse(s); console.log(String(eval(process.argv[1]))); });' "$1"; }

# 1. Wait until the dashboard answers (it is started by the same `kubectl apply`) and has a leader, then talk
#    to the leader directly: the Service may route to the standby, which refuses writes. If leadership moves
#    while this runs, a write fails, the script exits non-zero and the Job retries from the top.
tries=0
until status="$(redslot status --json 2>&1)" && [ "$(js 'd.leader !== null')" = "true" ]; do
  tries=$((tries + 1))
  if [ "$tries" -ge 120 ]; then log "no dashboard leader after 10 minutes: $status"; exit 1; fi
  log "waiting for a dashboard leader"
  sleep 5
done
# Same scheme as the Service URL (https: the certificate is checked against REDSLOT_TLS_SERVERNAME).
REDSLOT_DASHBOARD="${REDSLOT_DASHBOARD%%://*}://$(js 'd.leader.addr')"
log "dashboard leader: $REDSLOT_DASHBOARD"

# 2. Groups and servers (`server add`: the first server of a group is its master, later ones replicas).
ids=""
for entry in $REDSLOT_BOOTSTRAP_GROUPS; do
  gid="${entry%%=*}"
  addrs="${entry#*=}"
  ids="${ids:+$ids,}$gid"
  status="$(redslot status --json)"
  if [ "$(js "d.groups.some((g) => g.id === $gid)")" = "true" ]; then
    log "group $gid exists"
  else
    log "creating group $gid"
    redslot group create "$gid"
    status="$(redslot status --json)"
  fi
  # One status read per group: adding a server to this group changes no other address's registration.
  for addr in $(printf '%s' "$addrs" | tr ',' ' '); do
    if [ "$(js "d.groups.some((g) => g.servers.some((s) => s.addr === '$addr'))")" = "true" ]; then
      log "server $addr already registered"
    else
      log "adding $addr to group $gid"
      redslot server add "$gid" "$addr"
    fi
  done
done

# 3. Slots, only on a brand-new cluster; --if-revision refuses if anyone changed the model since we looked.
status="$(redslot status --json)"
if [ "$(js 'd.groups.every((g) => g.slotCount === 0) && d.migratingSlots === 0')" = "true" ]; then
  log "assigning every slot evenly over groups $ids"
  redslot slots assign --even --groups "$ids" --if-revision "$(js 'd.revision')"
else
  log "slots already assigned: leaving the slot table alone"
fi
redslot status
log "done"
