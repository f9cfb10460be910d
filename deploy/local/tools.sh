#!/usr/bin/env bash
# Command-line tools the tests need that are not Python packages, built from their Go modules (the Go proxy
# is reachable; GitHub release downloads may not be). Installed once into $AID_INFRA_DIR/bin.
#   tools.sh install | path
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${AID_INFRA_DIR:-$repo/.infra}/bin"
KUSTOMIZE_VERSION=v5.7.1

log() { printf '[tools] %s\n' "$*" >&2; }

install() {
  if [ -x "$bin/kustomize" ] && "$bin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then return; fi
  command -v go >/dev/null || { log "go not found: install Go (https://go.dev/dl or apt-get install -y golang-go)"; exit 1; }
  log "building kustomize $KUSTOMIZE_VERSION into $bin (about a minute, once)"
  mkdir -p "$bin"
  GOBIN="$bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
}

case "${1:-install}" in
  install) install ;;
  path) echo "$bin/kustomize" ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
