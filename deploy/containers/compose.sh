#!/usr/bin/env bash
# docker-compose.yml run with podman-compose, in the order its depends_on conditions state. podman 4.3 ignores
# `condition: service_healthy` (and its health checks need systemd timers to run on their own), so this starts
# the stack in stages and runs each stage's health checks itself:
#   1. kafka, postgres (healthy)  2. keygen (exited 0)  3. migrations (exited 0)
#   4. the six service containers (healthy)  5. prometheus (healthy)
#   compose.sh up | down | ps | logs SERVICE | token [SCOPE…]
# Run it in a network namespace of its own (make compose-live does): the published ports then open there, not
# on the host. AID_PROJECT (default crisisaid) names the compose project.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
export CONTAINERS_CONF="$here/containers.conf"
project="${AID_PROJECT:-crisisaid}"
compose=("$repo/.venv/bin/podman-compose" -p "$project" -f "$repo/docker-compose.yml")
APPS=(pledges-api pledges-worker projects-api projects-worker notifications-api notifications-worker)

log() { printf '[compose] %s\n' "$*" >&2; }

container() { echo "${project}_$1_1"; }

quietly() {  # podman-compose echoes every podman command and id; keep them for a failure
  local out; out="$(mktemp)"
  "$@" >"$out" 2>&1 || { grep -v -E 'pids limit|systemd|syslog' "$out" | tail -20 >&2; rm -f "$out"; return 1; }
  rm -f "$out"
}

start() { quietly "${compose[@]}" up -d --no-deps --force-recreate "$@"; }

healthy() {  # healthy TIMEOUT SERVICE…: each container's health check passes
  local timeout="$1"; shift
  for s in "$@"; do
    local c; c="$(container "$s")" deadline=$((SECONDS + timeout))
    until podman healthcheck run "$c" >/dev/null 2>&1; do
      if [ "$(podman inspect --format '{{.State.Running}}' "$c")" != true ] || [ $SECONDS -ge $deadline ]; then
        podman logs --tail 30 "$c" >&2 || true
        log "$s did not become healthy"; return 1
      fi
      sleep 1
    done
  done
}

completed() {  # completed SERVICE…: each one-off container exited 0
  for s in "$@"; do
    local code; code="$(podman wait "$(container "$s")")"
    [ "$code" = 0 ] || { podman logs --tail 30 "$(container "$s")" >&2; log "$s exited $code"; return 1; }
  done
}

up() {
  local t0=$SECONDS
  start kafka postgres && healthy 120 kafka postgres
  start keygen && completed keygen
  start migrate-pledges migrate-projects migrate-notifications && completed migrate-pledges migrate-projects migrate-notifications
  start "${APPS[@]}" && healthy 120 "${APPS[@]}"
  start prometheus && healthy 60 prometheus
  log "up in $((SECONDS - t0)) s: kafka, postgres, keys, migrations, ${APPS[*]}, prometheus"
}

case "${1:-up}" in
  up) up ;;
  down) quietly "${compose[@]}" down -v ;;
  ps) podman ps -a --filter "label=io.podman.compose.project=$project" --format '{{.Names}}\t{{.Status}}' ;;
  logs) podman logs "$(container "$2")" ;;
  token)  # the command docker-compose.yml documents, as written there
    shift
    scopes=(); for s in "${@:-admin}"; do scopes+=(--scope "$s"); done
    # -T: no pseudo-terminal, so the token ends in "\n", not "\r\n" (a "\r" in a header is a 400)
    "${compose[@]}" run --rm -T --no-deps --entrypoint crisisaid pledges-api token "${scopes[@]}" --subject operator \
      --key-file /keys/private.pem 2>/dev/null | grep '^eyJ' ;;  # the token alone (podman-compose echoes more)
  *) echo "usage: $0 up|down|ps|logs SERVICE|token [SCOPE…]" >&2; exit 2 ;;
esac
