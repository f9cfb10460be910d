#!/usr/bin/env bash
# Command-line tools the tests need that are not Python packages, built from their Go modules (the Go proxy
# is reachable; GitHub release downloads may not be). Installed once into $AID_INFRA_DIR/bin.
#   tools.sh install | bench | apiserver | path
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
bin="${AID_INFRA_DIR:-$repo/.infra}/bin"
KUSTOMIZE_VERSION=v5.7.1

log() { printf '[tools] %s\n' "$*" >&2; }

install() {
  if [ -x "$bin/kustomize" ] && "$bin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then return; fi
  if [ -x "$bin/kustomize" ] && ! command -v go >/dev/null; then return; fi  # the kubectl wrapper
  if ! command -v go >/dev/null; then
    if command -v kubectl >/dev/null; then  # kubectl embeds kustomize: `kustomize build DIR` → `kubectl kustomize DIR`
      log "go not found: using kubectl's built-in kustomize"
      mkdir -p "$bin"
      printf '#!/bin/sh\n[ "$1" = build ] && shift\nexec kubectl kustomize "$@"\n' >"$bin/kustomize"
      chmod +x "$bin/kustomize"
      return
    fi
    log "neither go nor kubectl found: install Go (https://go.dev/dl or apt-get install -y golang-go)"; exit 1
  fi
  log "building kustomize $KUSTOMIZE_VERSION into $bin (about a minute, once)"
  mkdir -p "$bin"
  GOBIN="$bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
}

# promtool (Debian's prometheus package) checks and unit-tests the alert rules.
install_promtool() {
  command -v promtool >/dev/null && return
  log "installing promtool (Debian package prometheus)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
    || { log "promtool missing: apt-get install -y prometheus"; exit 1; }
}

# Chromium (Debian package) for the console's browser tests, driven by Playwright with executable_path: no
# browser download at run time.
install_chromium() {
  command -v chromium >/dev/null && return
  log "installing chromium (Debian package)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-noto-core >/dev/null; } \
    || { log "chromium missing: apt-get install -y chromium"; exit 1; }
}

# wrk (Debian package) drives `make bench`: a C load generator that is not itself the bottleneck.
install_wrk() {
  command -v wrk >/dev/null && return
  log "installing wrk (Debian package)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; } \
    || { log "wrk missing: apt-get install -y wrk"; exit 1; }
}

# A real Kubernetes control plane for `make k8s-live`: etcd (Debian package etcd-server); kube-apiserver,
# kube-controller-manager and kube-scheduler built from the Go module proxy through the wrapper module
# deploy/k8s/live (about 10 minutes cold on 2 cores); kwok, a fake node's kubelet, from its own module. The
# binaries are kept in $bin with a stamp of the wrapper's go.sum and kwok's version, rebuilt when those change.
KWOK_VERSION=v0.8.0
CONTROL_PLANE=(kube-apiserver kube-controller-manager kube-scheduler)
install_apiserver() {
  if ! command -v etcd >/dev/null; then
    log "installing etcd (Debian package etcd-server)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server >/dev/null; } \
      || { log "etcd missing: apt-get install -y etcd-server"; exit 1; }
  fi
  local stamp; stamp="$(sha256sum "$repo/deploy/k8s/live/go.sum" | cut -c1-16)-$KWOK_VERSION"
  if [ "$(cat "$bin/control-plane.stamp" 2>/dev/null)" = "$stamp" ] && [ -s "$bin/kwok-stages.yaml" ]; then return; fi
  command -v go >/dev/null || { log "go not found: the control plane is built from its Go modules"; exit 1; }
  mkdir -p "$bin"
  for component in "${CONTROL_PLANE[@]}"; do
    log "building $component from the Go module proxy into $bin (minutes, once)"
    (cd "$repo/deploy/k8s/live" && GOFLAGS=-mod=mod go build -trimpath -o "$bin/$component" "k8s.io/kubernetes/cmd/$component")
  done
  log "building kwok $KWOK_VERSION into $bin"
  GOBIN="$bin" GOFLAGS=-mod=mod go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  # kwok's own stages (from its module): a node that becomes Ready and keeps its heartbeat, pods that become Ready
  local stages; stages="$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage"
  for s in node/fast node/heartbeat pod/fast; do "$bin/kustomize" build "$stages/$s"; echo "---"; done >"$bin/kwok-stages.yaml"
  echo "$stamp" >"$bin/control-plane.stamp"
}

case "${1:-install}" in
  install) install; install_promtool; install_chromium ;;
  bench) install_wrk ;;
  apiserver) install; install_apiserver ;;
  path) echo "$bin/kustomize" ;;
  *) echo "usage: $0 install|bench|apiserver|path" >&2; exit 2 ;;
esac
