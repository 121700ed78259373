#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from their Go modules into a cache outside the repo,
# keyed by version. Prints the directory that holds the binaries.
#
# KUBEBUILDER_ASSETS, when set to a directory that already has kube-apiserver and etcd, wins:
# nothing is built. RESTASH_CACHE moves the cache (default: ~/.cache/restash).
set -euo pipefail

K8S_VERSION="${RESTASH_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${RESTASH_ETCD_VERSION:-v3.6.16}"
CACHE="${RESTASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/restash}"

log() { echo "[control-plane] $*" >&2; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
  echo "$KUBEBUILDER_ASSETS"
  exit 0
fi

OUT="$CACHE/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
mkdir -p "$CACHE"
# One build at a time, even when several test runs start together.
exec 9>"$CACHE/.control-plane.lock"
flock 9
if [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/etcd" ] && [ -x "$OUT/kubectl" ]; then
  echo "$OUT"
  exit 0
fi

command -v go >/dev/null || { log "go is required to build the control plane (Go >= 1.26)"; exit 1; }
mkdir -p "$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# --- kube-apiserver and kubectl: a wrapper module that pins each staging module to its
# published v0.X.Y, since k8s.io/kubernetes requires them at v0.0.0 through local replaces.
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
patch=${K8S_VERSION##*.}
SV="v0.$minor.$patch"
start=$(date +%s)
log "building kube-apiserver and kubectl $K8S_VERSION (staging modules at $SV); this takes several minutes the first time"
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
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@$K8S_VERSION" >&2
go get -tool "k8s.io/kubernetes/cmd/kubectl@$K8S_VERSION" >&2 || true
go mod tidy >&2
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 \
 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean \
 -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
mv "$OUT/kube-apiserver.tmp" "$OUT/kube-apiserver"
if go build -trimpath -ldflags "$LDFLAGS" -o "$OUT/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl; then
  mv "$OUT/kubectl.tmp" "$OUT/kubectl"
else
  log "kubectl could not be built; falling back to the machine's kubectl"
  ln -sf "$(command -v kubectl)" "$OUT/kubectl"
fi
log "kube-apiserver and kubectl built in $(( $(date +%s) - start ))s"

# --- etcd: the same wrapper technique (server/go.mod has local replaces too).
start=$(date +%s)
log "building etcd $ETCD_VERSION"
mkdir -p "$WORK/etcd" && cd "$WORK/etcd"
go mod init restash.local/etcdbin >/dev/null 2>&1
go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
go mod tidy >&2
go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3
mv "$OUT/etcd.tmp" "$OUT/etcd"
log "etcd built in $(( $(date +%s) - start ))s"
echo "$OUT"
