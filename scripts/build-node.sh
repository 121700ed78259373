#!/usr/bin/env bash
# Everything a single-node cluster (local/node.ts) runs, cached by version under ~/.cache/restash
# (RESTASH_CACHE), and prints the directory that holds them (symlinks) as its last line:
#   kube-apiserver, kubectl, kubelet, kube-controller-manager, kube-scheduler, kube-proxy, etcd
#                               - scripts/build-control-plane.sh --node (one go build)
#   containerd, containerd-shim-runc-v2, ctr 2.4.2
#                               - from the containerd Go module (Debian's 1.6.20 is older than any
#                                 containerd kubelet 1.36 supports)
#   pause (registry.k8s.io/pause:3.10.2's one binary) - pause.c from the k8s.io/kubernetes module, gcc -static
#   runc, CNI plugins, iptables, nft, conntrack, umoci, busybox
#                               - Debian packages (apt-get), linked in
# Idempotent: a cached binary that runs is reused; a killed build leaves no half-written file.
set -euo pipefail

K8S_VERSION="${RESTASH_K8S_VERSION:-v1.36.3}"
CONTAINERD_VERSION="${RESTASH_CONTAINERD_VERSION:-v2.4.2}"
# The sandbox image containerd 2.4 and kubelet 1.36 expect by default.
PAUSE_VERSION=3.10.2
CACHE="${RESTASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/restash}"
HERE="$(cd "$(dirname "$0")" && pwd)"
log() { echo "[node] $*" >&2; }
mkdir -p "$CACHE"

exec 9>"$CACHE/.node.lock"
flock 9

# 1. Debian packages: runc, CNI plugins, the netfilter tools, umoci, busybox, a C compiler for pause.
need_apt=()
[ -x /usr/sbin/runc ] || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
command -v iptables >/dev/null || need_apt+=(iptables)
command -v nft >/dev/null || need_apt+=(nftables)
command -v conntrack >/dev/null || need_apt+=(conntrack)
command -v umoci >/dev/null || need_apt+=(umoci)
[ -x /bin/busybox ] || need_apt+=(busybox-static)
command -v gcc >/dev/null || need_apt+=(gcc)
[ -f /usr/lib/x86_64-linux-gnu/libc.a ] || [ -n "$(ls /usr/lib/*/libc.a 2>/dev/null)" ] || need_apt+=(libc6-dev)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} from Debian"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi
# busybox-static ships /bin/busybox; the image builder copies it.
! ldd /bin/busybox >/dev/null 2>&1 || { log "/bin/busybox is not the static build: apt-get install busybox-static"; exit 1; }

export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

# 2. containerd from its Go module (no btrfs: it needs cgo headers, and overlayfs is what we use).
CTRD_OUT="$CACHE/bin/containerd-$CONTAINERD_VERSION"
if ! { [ -x "$CTRD_OUT/containerd" ] && "$CTRD_OUT/containerd" --version >/dev/null 2>&1 && [ -x "$CTRD_OUT/containerd-shim-runc-v2" ] && [ -x "$CTRD_OUT/ctr" ]; }; then
  command -v go >/dev/null || { log "go is required (Go >= 1.26) to build containerd"; exit 1; }
  start=$(date +%s)
  log "building containerd $CONTAINERD_VERSION from its Go module"
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    go mod init restash.local/containerd >/dev/null 2>&1
    mod=github.com/containerd/containerd/v2
    pkgs=()
    for c in containerd containerd-shim-runc-v2 ctr; do
      go get -tool "$mod/cmd/$c@$CONTAINERD_VERSION" >&2
      pkgs+=("$mod/cmd/$c")
    done
    go mod tidy >&2
    mkdir -p out
    nice -n "${RESTASH_NICE:-10}" go build -trimpath -tags no_btrfs \
      -ldflags "-s -w -X $mod/version.Version=$CONTAINERD_VERSION -X $mod/version.Package=$mod" -o out/ "${pkgs[@]}"
    mkdir -p "$CTRD_OUT"
    for c in containerd containerd-shim-runc-v2 ctr; do mv "out/$c" "$CTRD_OUT/$c"; done
  )
  rm -rf "$work"
  trap - EXIT
  log "containerd built in $(( $(date +%s) - start ))s"
fi

# 3. pause, statically linked (the sandbox's PID 1; reaps zombies, waits for a signal).
PAUSE_OUT="$CACHE/bin/pause-$PAUSE_VERSION"
if ! [ -x "$PAUSE_OUT/pause" ]; then
  dir=$(cd "$CACHE" && GOFLAGS= go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -f "$dir/build/pause/linux/pause.c" ] || { log "pause.c not found in k8s.io/kubernetes@$K8S_VERSION ($dir)"; exit 1; }
  mkdir -p "$PAUSE_OUT"
  gcc -static -Os -Wall -Werror -DVERSION="v$PAUSE_VERSION-restash" -o "$PAUSE_OUT/pause.tmp" "$dir/build/pause/linux/pause.c"
  strip "$PAUSE_OUT/pause.tmp"
  mv "$PAUSE_OUT/pause.tmp" "$PAUSE_OUT/pause"
  log "pause $PAUSE_VERSION compiled"
fi

# 4. Kubernetes and etcd (build-control-plane.sh takes its own lock).
K8S_BIN=$(bash "$HERE/build-control-plane.sh" --node | tail -1)

# 5. One directory with everything, as symlinks (containerd finds its shim and runc through PATH).
OUT="$CACHE/bin/node-k8s-$K8S_VERSION-containerd-$CONTAINERD_VERSION"
mkdir -p "$OUT"
for c in kube-apiserver kubectl kubelet kube-controller-manager kube-scheduler kube-proxy etcd; do ln -sfn "$K8S_BIN/$c" "$OUT/$c"; done
for c in containerd containerd-shim-runc-v2 ctr; do ln -sfn "$CTRD_OUT/$c" "$OUT/$c"; done
ln -sfn "$PAUSE_OUT/pause" "$OUT/pause"
ln -sfn /usr/sbin/runc "$OUT/runc"
ln -sfn /bin/busybox "$OUT/busybox"
ln -sfn "$(command -v umoci)" "$OUT/umoci"
ln -sfn /usr/lib/cni "$OUT/cni"
echo "$PAUSE_VERSION" > "$OUT/pause.version"
echo "$OUT"
