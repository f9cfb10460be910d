#!/usr/bin/env bash
# The compose file's images built with podman where no image registry is reachable.
#   images.sh podman | base | standins | services | all
# - base: a Debian bookworm root made with debootstrap (Debian's packages are reachable) with python3, pip and
#   venv, imported as python:3.11.11-slim-bookworm — the image the services' Dockerfiles start FROM, so they build
#   unchanged. Cached as a tarball in $AID_INFRA_DIR/images with a stamp of this script's package list.
# - standins: PostgreSQL, Kafka and Prometheus under the names docker-compose.yml gives them (see the
#   Containerfiles beside this script for what each keeps of the official image's contract).
# - services: crisisaid/{pledges,projects,notifications}:local from services/*/Dockerfile.
# Images land in root podman storage; builds run in their own network namespace (netavark), nothing is published.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${AID_INFRA_DIR:-$repo/.infra}/images"
export CONTAINERS_CONF="$here/containers.conf"
BASE_IMAGE=docker.io/library/python:3.11.11-slim-bookworm
BASE_PACKAGES=python3,python3-pip,python3-venv,python-is-python3,ca-certificates
SERVICES=(pledges projects notifications)

log() { printf '[images] %s\n' "$*" >&2; }

install_podman() {
  if command -v podman >/dev/null && command -v debootstrap >/dev/null && command -v runc >/dev/null; then return; fi
  log "installing podman, runc and debootstrap (Debian packages)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      podman runc debootstrap netavark aardvark-dns catatonit iptables >/dev/null; } \
    || { log "podman missing: apt-get install -y podman runc debootstrap"; exit 1; }
}

# The image name docker-compose.yml gives a service.
compose_image() {
  "$repo/.venv/bin/python" - "$1" <<'PY'
import sys, pathlib, yaml
compose = yaml.safe_load(pathlib.Path("docker-compose.yml").read_text())
print(compose["services"][sys.argv[1]]["image"])
PY
}

base() {
  local stamp; stamp="$(printf '%s\n' "$BASE_PACKAGES" bookworm | sha256sum | cut -c1-12)"
  if [ "$(podman image inspect --format '{{ index .Labels "org.crisisaid.base" }}' "$BASE_IMAGE" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  local tarball="$cache/base-$stamp.tar"
  if [ ! -s "$tarball" ]; then
    local root="$cache/base-root"
    log "debootstrap bookworm (minbase + $BASE_PACKAGES) into $root (about a minute, once)"
    rm -rf "$root"; mkdir -p "$cache"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$root" http://deb.debian.org/debian >"$cache/debootstrap.log" 2>&1 \
      || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
    # pip may install into the image's Python, as in the official image; the machine's CA bundle (a proxy's CA,
    # if any) is trusted inside, and SSL_CERT_FILE makes uv use it too.
    rm -f "$root"/usr/lib/python3*/EXTERNALLY-MANAGED
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
    rm -rf "$root"
  fi
  log "importing $tarball as $BASE_IMAGE"
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.crisisaid.base=$stamp" --change 'CMD ["python3"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null
}

build() {  # build NAME CONTAINERFILE CONTEXT
  log "building $1"
  mkdir -p "$cache"
  local out="$cache/build-${1//[\/:]/_}.log"
  podman build --format docker --pull=never -f "$2" -t "$1" "$3" >"$out" 2>&1 || { tail -30 "$out" >&2; exit 1; }
}

standins() {
  base
  "$repo/deploy/local/kafka.sh" install
  local ctx="$cache/kafka-context"
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp -r "$repo/deploy/local/kafka/libs" "$repo/deploy/local/kafka/log4j2.properties" "$here"/kafka/* "$ctx/"
  build "$(compose_image kafka)" "$ctx/Containerfile" "$ctx"
  build "$(compose_image postgres)" "$here/postgres/Containerfile" "$here/postgres"
  build "$(compose_image prometheus)" "$here/prometheus/Containerfile" "$here/prometheus"
}

services() {
  base
  for s in "${SERVICES[@]}"; do build "crisisaid/$s:local" "$repo/services/$s/Dockerfile" "$repo"; done
}

cd "$repo"
case "${1:-all}" in
  podman) install_podman ;;
  base) install_podman; base ;;
  standins) install_podman; standins ;;
  services) install_podman; services ;;
  all) install_podman; standins; services ;;
  *) echo "usage: $0 podman|base|standins|services|all" >&2; exit 2 ;;
esac
