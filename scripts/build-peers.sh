#!/usr/bin/env bash
# Builds the real peers the Kubernetes tests talk to, from their Go modules at pinned versions:
# etcd, kube-apiserver, kube-controller-manager and kubectl (k8s.io/kubernetes with its staging modules
# replaced by the published ones), helm (helm.sh/helm/v4), istiod's pilot-discovery (istio.io/istio),
# plus the Gateway API CRDs and Istio's CRDs (istio.io/api) from their modules. Output: .peers/bin and
# .peers/crds (git-ignored). A second run with the same versions does nothing.
#   scripts/build-peers.sh            # build what is missing
#   EGRESSWAY_PEERS_DIR=/x scripts/build-peers.sh
set -euo pipefail
KUBE_VERSION=v1.36.3        # k8s.io/kubernetes; staging modules at v0.36.3
STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.16
GATEWAY_API_VERSION=v1.6.3
ISTIO_API_VERSION=v1.32.0   # istio.io/api: the Istio CRDs (kubernetes/customresourcedefinitions.gen.yaml)
HELM_VERSION=v4.3.2
# istio.io/istio publishes no semver module versions; the proxy serves this commit of master (2026-08-27).
ISTIO_VERSION=v0.0.0-20260827124520-eed52ebb66ad
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${EGRESSWAY_PEERS_DIR:-$ROOT/.peers}"
BIN="$OUT/bin"
mkdir -p "$BIN" "$OUT/crds"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
stamp="$OUT/versions"
want="kube=$KUBE_VERSION etcd=$ETCD_VERSION gateway-api=$GATEWAY_API_VERSION istio-api=$ISTIO_API_VERSION helm=$HELM_VERSION istio=$ISTIO_VERSION"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$BIN/etcd" ] && [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kubectl" ] && [ -x "$BIN/helm" ] && [ -x "$BIN/pilot-discovery" ]; then
  echo "peers: up to date in $OUT ($want)"; exit 0
fi
work="$OUT/src"
mkdir -p "$work/kube" "$work/etcd" "$work/helm" "$work/istio"

echo "peers: etcd $ETCD_VERSION"
( cd "$work/etcd"
  [ -f go.mod ] || printf 'module egressway.test/etcd\n\ngo 1.26\n' > go.mod
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null
  go build -trimpath -ldflags='-s -w' -o "$BIN/etcd" go.etcd.io/etcd/server/v3 )

echo "peers: kube-apiserver, kube-controller-manager, kubectl $KUBE_VERSION"
( cd "$work/kube"
  [ -f go.mod ] || printf 'module egressway.test/kube\n\ngo 1.26\n' > go.mod
  go get "k8s.io/kubernetes@$KUBE_VERSION" >/dev/null
  kmod="$(go env GOMODCACHE)/k8s.io/kubernetes@$KUBE_VERSION"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 with local replaces; point them at the
  # published releases of the same minor version.
  for m in $(grep -E '^\s*k8s.io/\S+ => ./staging' "$kmod/go.mod" | awk '{print $1}' | sort -u); do
    go mod edit -replace="$m=$m@$STAGING_VERSION"
  done
  cat > tools.go <<'GO'
//go:build tools

package kube

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >/dev/null
  for cmd in kube-apiserver kube-controller-manager kubectl; do
    go build -trimpath -ldflags='-s -w' -o "$BIN/$cmd" "k8s.io/kubernetes/cmd/$cmd"
  done )

echo "peers: Gateway API CRDs $GATEWAY_API_VERSION"
( cd "$work/kube"
  go mod download "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" >/dev/null
  gw="$(go env GOMODCACHE)/sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
  rm -rf "$OUT/crds/gateway-api" && mkdir -p "$OUT/crds/gateway-api"
  cp "$gw"/config/crd/experimental/gateway.networking.k8s.io_*.yaml "$OUT/crds/gateway-api/"
  chmod u+w "$OUT/crds/gateway-api"/*.yaml
  go mod download "istio.io/api@$ISTIO_API_VERSION" >/dev/null
  install -m 0644 "$(go env GOMODCACHE)/istio.io/api@$ISTIO_API_VERSION/kubernetes/customresourcedefinitions.gen.yaml" "$OUT/crds/istio.yaml" )
echo "peers: helm $HELM_VERSION"
( cd "$work/helm"
  [ -f go.mod ] || printf 'module egressway.test/helm\n\ngo 1.26\n' > go.mod
  go get "helm.sh/helm/v4@$HELM_VERSION" >/dev/null
  go build -trimpath -ldflags='-s -w' -o "$BIN/helm" helm.sh/helm/v4/cmd/helm )

echo "peers: istiod (pilot-discovery) istio.io/istio@$ISTIO_VERSION"
( cd "$work/istio"
  [ -f go.mod ] || printf 'module egressway.test/istio\n\ngo 1.26\n' > go.mod
  go get "istio.io/istio@$ISTIO_VERSION" >/dev/null
  cat > tools.go <<'GO'
//go:build tools

package istio

import _ "istio.io/istio/pilot/cmd/pilot-discovery"
GO
  go mod tidy >/dev/null
  go build -trimpath -ldflags='-s -w' -o "$BIN/pilot-discovery" istio.io/istio/pilot/cmd/pilot-discovery )

echo "$want" > "$stamp"
echo "peers: built in $OUT"
