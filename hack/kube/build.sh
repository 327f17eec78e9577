#!/usr/bin/env bash
# Builds etcd and kube-apiserver from Go modules into a cache that outlives
# clones of the repo (no prebuilt Kubernetes binaries can be downloaded here).
# Prints the bin directory. Safe to run again: a cached binary of the pinned
# version is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
KUBE_VERSION=v1.34.4
ETCD_VERSION=v3.6.16
cache=${SLICEDNS_KUBE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/slicedns/kube-$KUBE_VERSION-etcd-$ETCD_VERSION}
bin=$cache/bin
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS=-mod=mod

if ! "$bin/etcd" --version 2>/dev/null | grep -q "${ETCD_VERSION#v}"; then
  echo "building etcd $ETCD_VERSION (about 2 minutes)..." >&2
  (cd "$here/etcd" && go build -trimpath -o "$bin/etcd.tmp" go.etcd.io/etcd/server/v3 && mv "$bin/etcd.tmp" "$bin/etcd")
fi

if ! "$bin/kube-apiserver" --version 2>/dev/null | grep -q "$KUBE_VERSION"; then
  echo "building kube-apiserver $KUBE_VERSION (about 10 minutes on 2 cores)..." >&2
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=34 -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION"
  (cd "$here/apiserver" && go build -trimpath -ldflags "$ldflags" -o "$bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver && mv "$bin/kube-apiserver.tmp" "$bin/kube-apiserver")
fi
"$bin/kube-apiserver" --version >&2
echo "$bin"
