#!/bin/sh
# Starts one member of a redslot Redis group (StatefulSet <group>, pods <group>-0, <group>-1, ...).
# Role at start:
#   - if another member of the group already reports role:master (the dashboard promoted it earlier),
#     follow that one: a restarted old master must not come back as a second, empty master;
#   - otherwise ordinal 0 is the master and every other ordinal replicates from <group>-0.
# After start the dashboard owns roles (promotion uses REPLICAOF at runtime).
set -eu

self="${HOSTNAME}"
group="${self%-*}"
ordinal="${self##*-}"
port="${REDIS_PORT:-6379}"
replicas="${GROUP_REPLICAS:-2}"

master=""
i=0
while [ "$i" -lt "$replicas" ]; do
  peer="${group}-${i}.${group}"
  if [ "$peer" != "${self}.${group}" ] \
    && redis-cli -h "$peer" -p "$port" --no-auth-warning info replication 2>/dev/null | grep -q '^role:master'; then
    master="$peer"
    break
  fi
  i=$((i + 1))
done
if [ -z "$master" ] && [ "$ordinal" != "0" ]; then
  master="${group}-0.${group}"
fi

# Every member requires the password (from the redslot-tokens Secret) and keeps protected mode on.
if [ -z "${REDIS_PASSWORD:-}" ]; then
  echo "redis-start: REDIS_PASSWORD is empty (Secret redslot-tokens, key redis-password)" >&2
  exit 1
fi

set -- redis-server - \
  --port "$port" \
  --bind 0.0.0.0 \
  --protected-mode yes \
  --dir /data \
  --appendonly yes \
  --maxmemory "${REDIS_MAXMEMORY:-768mb}" \
  --maxmemory-policy noeviction \
  --replica-announce-ip "${self}.${group}"
if [ -n "$master" ]; then
  echo "redis-start: ${self} starts as a replica of ${master}"
  set -- "$@" --replicaof "$master" "$port"
else
  echo "redis-start: ${self} starts as master"
fi
# The password goes in through stdin (`redis-server -`), never on the command line (ps shows argv).
exec "$@" <<EOF
requirepass "${REDIS_PASSWORD}"
masterauth "${REDIS_PASSWORD}"
EOF
