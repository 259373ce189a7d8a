#!/usr/bin/env bash
# Starts a Kubernetes control plane on loopback for trying `egressway run --kubernetes` by hand:
# etcd + kube-apiserver (+ kube-controller-manager when built) from .peers/bin (scripts/build-peers.sh
# builds them), the Istio and Gateway API CRDs, and examples/quickstart applied. It prints the
# `export KUBECONFIG=...`, `kubectl get ...` and `egressway run --kubernetes ...` lines to use.
# Ctrl-C stops everything and removes the data directory.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
exec "$ROOT/node_modules/.bin/node" "$ROOT/scripts/kube-env.ts" "$@"
