#!/usr/bin/env bash
# Builds kube-apiserver, kubectl, kubelet, kube-controller-manager, kube-scheduler, kube-proxy (one
# `go build` of the k8s.io/kubernetes module) and etcd from their Go modules into a cache outside the
# repo, keyed by version. Prints the directory that holds the binaries as its last line.
#
#   build-control-plane.sh          what the envtest-style control plane needs: kube-apiserver,
#                                   kubectl, etcd (a cache holding those is used as it is)
#   build-control-plane.sh --node   also the node's binaries (local/node.ts)
#
# KUBEBUILDER_ASSETS, when set to a directory that already has kube-apiserver and etcd, wins:
# nothing is built (not with --node). RESTASH_CACHE moves the cache (default: ~/.cache/restash).
set -euo pipefail

K8S_VERSION="${RESTASH_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${RESTASH_ETCD_VERSION:-v3.6.16}"
CACHE="${RESTASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/restash}"

log() { echo "[control-plane] $*" >&2; }
WANT_NODE=0
[ "${1:-}" = --node ] && WANT_NODE=1
K8S_CMDS="kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy"
NODE_CMDS="kubelet kube-controller-manager kube-scheduler kube-proxy"

if [ "$WANT_NODE" = 0 ] && [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

OUT="$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
mkdir -p "$CACHE"
# One build at a time, even when several test runs start together.
exec 9>"$CACHE/.control-plane.lock"
flock 9
have_node() { for c in $NODE_CMDS; do [ -x "$OUT/$c" ] || return 1; done; }
if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/etcd" ] && [ -x "$OUT/kubectl" ] && { [ "$WANT_NODE" = 0 ] || have_node; }; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build the control plane (Go >= 1.26)"; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# --- the Kubernetes commands: a wrapper module that pins each staging module to its published
# v0.X.Y, since k8s.io/kubernetes requires them at v0.0.0 through local replaces. All six in one
# `go build`: they share most packages, so together they cost little more than kube-apiserver alone.
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
patch=${K8S_VERSION##*.}
SV="v0.$minor.$patch"
have_k8s() { for c in $K8S_CMDS; do [ -x "$OUT/$c" ] || return 1; done; }
if ! have_k8s; then
start=$(date +%s)
log "building $K8S_CMDS $K8S_VERSION (staging modules at $SV); this takes several minutes the first time"
mkdir -p "$WORK/k8s" && cd "$WORK/k8s"
go mod init restash.local/k8sbins >/dev/null 2>&1
GOMOD=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
goline=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$GOMOD" | head -1)
godebug=$(sed -n 's/^godebug default=\(.*\)$/\1/p' "$GOMOD" | head -1)
go mod edit -go="$goline"
[ -n "$godebug" ] && go mod edit -godebug="default=$godebug"
for m in $(sed -n 's|^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/src/.*|\1|p' "$GOMOD"); do
  go mod edit -replace="$m=$m@$SV"
done
pkgs=()
for c in $K8S_CMDS; do
  go get -tool "k8s.io/kubernetes/cmd/$c@$K8S_VERSION" >&2
  pkgs+=("k8s.io/kubernetes/cmd/$c")
done
go mod tidy >&2
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
# Into a scratch directory first, then moved: a killed build never leaves a half-written binary in $OUT.
mkdir -p "$WORK/out"
nice -n "${RESTASH_NICE:-10}" go build -trimpath -ldflags "$LDFLAGS" -o "$WORK/out/" "${pkgs[@]}"
for c in $K8S_CMDS; do mv "$WORK/out/$c" "$OUT/$c"; done
log "$K8S_CMDS built in $(( $(date +%s) - start ))s"
fi

# --- etcd: the same wrapper technique (server/go.mod has local replaces too).
if [ ! -x "$OUT/etcd" ]; then
start=$(date +%s)
log "building etcd $ETCD_VERSION"
mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
go mod init restash.local/etcdbin >/dev/null 2>&1
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
go mod tidy >&2
nice -n "${RESTASH_NICE:-10}" go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$OUT/etcd.tmp" "$OUT/etcd"
log "etcd built in $(( $(date +%s) - start ))s"
fi
echo "$OUT"
