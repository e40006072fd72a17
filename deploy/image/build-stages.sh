#!/usr/bin/env bash
# Runs deploy/image/Dockerfile without a Docker engine (none exists on dev or CI machines):
#   1. builds the context as `docker build .` would see it (repository root minus Dockerfile.dockerignore),
#   2. executes the `build` stage's WORKDIR / ENV / COPY / RUN instructions in a temp dir
#      (npm ci, npm run build, npm prune --omit=dev),
#   3. assembles the `runtime` stage from its COPY --from=build lines only, into a second dir,
#   4. runs the image's ENTRYPOINT there with --help and --version (both must exit 0), checks every
#      runtime file is readable by the unprivileged USER, and (smoke-runtime.mjs, for the redslot image)
#      starts the proxy and the dashboard from those files, runs the HEALTHCHECK command against both,
#      fetches the dashboard UI and stops both with SIGTERM.
# The instructions are read from the Dockerfile itself, so this script cannot drift from it.
#
# usage: bash deploy/image/build-stages.sh [--keep]      (--keep leaves the temp dir for inspection)
#        REDSLOT_DOCKERFILE=path/to/Dockerfile bash deploy/image/build-stages.sh   (another Dockerfile; tests)
# Needs: bash, GNU tar, node 20 + npm, network access to the npm registry (or a warm npm cache).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dockerfile="${REDSLOT_DOCKERFILE:-$here/Dockerfile}"
ignorefile="$dockerfile.dockerignore"
keep=0
[[ "${1:-}" == "--keep" ]] && keep=1

work="$(mktemp -d "${TMPDIR:-/tmp}/redslot-image-XXXXXX")"
cleanup() { if [[ $keep == 0 ]]; then rm -rf "$work"; else echo "kept $work"; fi; }
trap cleanup EXIT

log() { printf '[build-stages] %s\n' "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }

# --- 1. build context --------------------------------------------------------------------------------
excludes=(--anchored)
while IFS= read -r line || [[ -n "$line" ]]; do
  line="${line%%#*}"; line="${line//[[:space:]]/}"
  [[ -z "$line" ]] && continue
  if [[ "$line" == '**/'* ]]; then
    excludes+=("--exclude=./${line#\*\*/}" "--exclude=./*/${line#\*\*/}")
  else
    excludes+=("--exclude=./$line")
  fi
done < <([[ -f "$ignorefile" ]] && cat "$ignorefile")
mkdir -p "$work/context"
tar -C "$repo" "${excludes[@]}" -cf - . | tar -C "$work/context" -xf -
log "context: $(find "$work/context" -type f | wc -l) files"

# --- 2 + 3. execute the stages -----------------------------------------------------------------------
# Each stage gets a root dir ($work/stage-NAME) standing in for its filesystem; absolute paths map into it.
stage=""; workdir="/"; entrypoint=""; cmd=""; user=""; healthcheck=""
declare -A stage_env=()
stage_root() { printf '%s/stage-%s' "$work" "$1"; }
in_root() { # stage, path (absolute or relative to the current WORKDIR)
  local p="$2"; [[ "$p" != /* ]] && p="$workdir/$p"
  printf '%s%s' "$(stage_root "$1")" "$p"
}
copy_into() { # src(abs host path) dest(host path; trailing / = directory)
  local src="$1" dest="$2"
  [[ -e "$src" ]] || die "COPY source missing: $src"
  if [[ "$dest" == */ ]]; then mkdir -p "$dest"; cp -a "$src" "$dest"
  else mkdir -p "$(dirname "$dest")"; rm -rf "$dest"; cp -a "$src" "$dest"; fi
}

while IFS= read -r raw || [[ -n "$raw" ]]; do
  [[ "$raw" =~ ^[[:space:]]*(#|$) ]] && continue
  instr="${raw%% *}"; args="${raw#* }"
  case "${instr^^}" in
    ARG) ;; # only used by FROM
    FROM)
      [[ "$args" =~ [Aa][Ss][[:space:]]+([A-Za-z0-9_-]+)$ ]] || die "FROM without AS name: $raw"
      stage="${BASH_REMATCH[1]}"; workdir="/"; stage_env=(); mkdir -p "$(stage_root "$stage")"
      log "stage $stage" ;;
    WORKDIR) workdir="$args"; mkdir -p "$(in_root "$stage" "$workdir")" ;;
    ENV) stage_env["${args%%=*}"]="${args#*=}" ;;
    COPY)
      read -r -a parts <<< "$args"
      from=""
      if [[ "${parts[0]}" == --from=* ]]; then from="${parts[0]#--from=}"; parts=("${parts[@]:1}"); fi
      [[ "${parts[0]}" == --* ]] && die "unsupported COPY flag in: $raw"
      dest="${parts[-1]}"; unset 'parts[-1]'
      for src in "${parts[@]}"; do
        if [[ -n "$from" ]]; then host_src="$(stage_root "$from")$src"; else host_src="$work/context/$src"; fi
        copy_into "$host_src" "$(in_root "$stage" "$dest")"
      done ;;
    RUN)
      log "RUN $args"
      envs=(); for k in "${!stage_env[@]}"; do envs+=("$k=${stage_env[$k]}"); done
      (cd "$(in_root "$stage" "$workdir")" && env "${envs[@]}" sh -c "$args") || die "RUN failed: $args" ;;
    USER) user="$args" ;;
    ENTRYPOINT) entrypoint="$args" ;;
    CMD) cmd="$args" ;;
    HEALTHCHECK) healthcheck="${args#*CMD }" ;;
    EXPOSE | LABEL) ;; # metadata; checked by test/unit/deploy-image.test.ts
    *) die "instruction not understood by this script: $raw" ;;
  esac
done < "$dockerfile"

[[ "$stage" == "runtime" ]] || die "the last stage must be named runtime (got $stage)"
[[ -n "$user" && "${user%%:*}" != 0 && "${user%%:*}" != root ]] || die "runtime stage must set a non-root USER"
app="$(in_root runtime "$workdir")"

# --- 4. smoke-test the runtime stage -----------------------------------------------------------------
mapfile -t ep < <(node -e 'for (const a of JSON.parse(process.argv[1])) console.log(a)' "$entrypoint")
[[ "${ep[0]}" == node ]] || die "ENTRYPOINT must start with node: $entrypoint"
for flag in --help --version; do
  (cd "$app" && env NODE_ENV=production node "${ep[@]:1}" "$flag" > "$work/out.txt" 2>&1) \
    || { cat "$work/out.txt" >&2; die "ENTRYPOINT $flag exited non-zero"; }
done
log "ENTRYPOINT --version: $(cat "$work/out.txt")"
unreadable="$(find "$app" ! -perm -o+r | head -5)"
[[ -z "$unreadable" ]] || die "files the USER ($user) cannot read: $unreadable"
[[ ! -e "$app/node_modules/typescript" ]] || die "dev dependencies left in the runtime stage (typescript)"
if [[ -f "$app/dist/deploy/bin/redslot.js" ]]; then
  [[ -n "$healthcheck" ]] || die "the redslot image needs a HEALTHCHECK"
  node "$here/smoke-runtime.mjs" "$app" "$healthcheck" || die "runtime smoke test failed"
fi
log "runtime stage: $(du -sh "$app" | cut -f1) in $app; CMD $cmd"
log "OK"
