#!/usr/bin/env bash
# Builds OCI image archives without a Docker daemon, cached by a hash of their inputs under
# ~/.cache/restash/images (RESTASH_CACHE), and prints one "<archive> <image name>" line per image:
#
#   build-image.sh base      registry.k8s.io/pause:3.10.2 (pause.c, static) and busybox (Debian's busybox-static)
#   build-image.sh restash   ghcr.io/restash/restash:0.1.0: what the Dockerfile describes, from Debian
#                            packages (mmdebstrap) + Node from node_modules/node + restic from
#                            install-tools.sh + the code + `npm ci --omit=dev`, user 65534
#   build-image.sh pushgateway  docker.io/prom/pushgateway:v1.11.1 (install-tools.sh's build, static)
#   build-image.sh postgres  docker.io/library/postgres:15: Debian's PostgreSQL server (mmdebstrap) with an entrypoint
#                            taking the official image's environment (scripts/postgres-image/entrypoint.sh), for node tests
#   build-image.sh spec      what the restash image is made of, as JSON (a test compares it with the Dockerfile)
#
# Layers: a base (Debian rootfs, Node, restic: rebuilt only when those change) and the app
# (code and production node_modules: rebuilt when a file changes), so a code change costs seconds.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
CACHE="${RESTASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/restash}"
IMAGES="$CACHE/images"
log() { echo "[image] $*" >&2; }

# --- the restash image: keep in step with the Dockerfile (scripts/build-image.test.ts checks it).
SUITE=bookworm
PACKAGES="ca-certificates git openssh-client postgresql-client"
NODE_VERSION=$(sed -n 's/.*"version": "\([^"]*\)".*/\1/p' "$ROOT/node_modules/node/package.json" 2>/dev/null | head -1)
RESTIC_VERSION=$(sed -n 's/^RESTIC_VERSION=//p' "$HERE/install-tools.sh")
IMAGE_VERSION=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$ROOT/package.json" | head -1)
IMAGE_NAME="ghcr.io/restash/restash:$IMAGE_VERSION"
WORKDIR=/opt/restash
IMAGE_USER=65534:65534
ENTRYPOINT='["node", "/opt/restash/bin/restash.ts"]'
CMD='["operator"]'
IMAGE_ENV="NODE_ENV=production RESTASH_SCRATCH_DIR=/stash-tmp TMPDIR=/stash-tmp"
PUSHGATEWAY_VERSION=$(sed -n 's/^PUSHGATEWAY_VERSION=//p' "$HERE/install-tools.sh")
PAUSE_VERSION=3.10.2
BUSYBOX_NAME=docker.io/library/busybox:1.35
# --- the postgres image: Debian's server packages for $SUITE, named as the official image's major tag.
PG_MAJOR=15
POSTGRES_PACKAGES="postgresql-$PG_MAJOR"
# JIT is left out (LLVM and its bitcode are 150 MB of 370): without llvmjit.so the server runs with jit off.
POSTGRES_DROP="libllvm14 libz3-4"
POSTGRES_NAME=docker.io/library/postgres:$PG_MAJOR

target="${1:-}"
if [ "$target" = spec ]; then
  printf '{"suite":"%s","packages":"%s","node":"%s","restic":"%s","image":"%s","workdir":"%s","user":"%s","entrypoint":%s,"cmd":%s,"env":"%s"}\n' \
    "$SUITE" "$PACKAGES" "$NODE_VERSION" "$RESTIC_VERSION" "$IMAGE_NAME" "$WORKDIR" "$IMAGE_USER" "$ENTRYPOINT" "$CMD" "$IMAGE_ENV"
  exit 0
fi

mkdir -p "$IMAGES"
exec 9>"$CACHE/.images.lock"
flock 9
command -v umoci >/dev/null || { log "umoci is required: bash scripts/build-node.sh installs it"; exit 1; }
sha() { sha256sum | cut -c1-16; }

# new_layout DIR TAG: an empty image; unpack it to BUNDLE, fill BUNDLE/rootfs, then finish_layout.
new_layout() { rm -rf "$1" && umoci init --layout "$1" && umoci new --image "$1:$2"; }
# archive LAYOUT OUT: the OCI layout as one tar (what `ctr images import` reads).
archive() { tar -C "$1" -cf "$2.tmp" . && mv "$2.tmp" "$2"; }

build_pause() {
  local bin key out work
  bin="${RESTASH_NODE_BIN:-}"
  [ -n "$bin" ] || bin=$(bash "$HERE/build-node.sh" | tail -1)
  key=$(sha256sum "$bin/pause" | sha)
  out="$IMAGES/pause-$PAUSE_VERSION-$key.tar"
  if [ ! -f "$out" ]; then
    work=$(mktemp -d)
    new_layout "$work/l" "$PAUSE_VERSION"
    umoci unpack --image "$work/l:$PAUSE_VERSION" "$work/b" >/dev/null
    cp "$bin/pause" "$work/b/rootfs/pause"
    umoci repack --image "$work/l:$PAUSE_VERSION" "$work/b"
    umoci config --image "$work/l:$PAUSE_VERSION" --config.entrypoint /pause --config.user 65535:65535
    umoci gc --layout "$work/l"
    archive "$work/l" "$out"
    rm -rf "$work"
    find "$IMAGES" -maxdepth 1 -name "pause-$PAUSE_VERSION-*.tar" ! -path "$out" -delete
  fi
  echo "$out registry.k8s.io/pause:$PAUSE_VERSION"
}

build_busybox() {
  local key out work
  key=$(sha256sum /bin/busybox | sha)
  out="$IMAGES/busybox-$key.tar"
  if [ ! -f "$out" ]; then
    work=$(mktemp -d)
    new_layout "$work/l" 1.35
    umoci unpack --image "$work/l:1.35" "$work/b" >/dev/null
    mkdir -p "$work/b/rootfs/"{bin,tmp,etc,proc,sys,dev,root}
    cp /bin/busybox "$work/b/rootfs/bin/busybox"
    chroot "$work/b/rootfs" /bin/busybox --install -s /bin
    chmod 1777 "$work/b/rootfs/tmp"
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$work/b/rootfs/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' > "$work/b/rootfs/etc/group"
    umoci repack --image "$work/l:1.35" "$work/b"
    umoci config --image "$work/l:1.35" --config.cmd /bin/sh --config.env PATH=/bin:/usr/bin:/sbin:/usr/sbin
    umoci gc --layout "$work/l"
    archive "$work/l" "$out"
    rm -rf "$work"
    find "$IMAGES" -maxdepth 1 -name "busybox-*.tar" ! -path "$out" -delete
  fi
  echo "$out $BUSYBOX_NAME"
}

build_pushgateway() {
  local tools key out work
  tools=$(bash "$HERE/install-tools.sh" | tail -1)
  key=$(sha256sum "$(readlink -f "$tools/pushgateway")" | sha)
  out="$IMAGES/pushgateway-$PUSHGATEWAY_VERSION-$key.tar"
  if [ ! -f "$out" ]; then
    work=$(mktemp -d)
    new_layout "$work/l" "$PUSHGATEWAY_VERSION"
    umoci unpack --image "$work/l:$PUSHGATEWAY_VERSION" "$work/b" >/dev/null
    mkdir -p "$work/b/rootfs/bin" "$work/b/rootfs/tmp"
    chmod 1777 "$work/b/rootfs/tmp"
    cp "$(readlink -f "$tools/pushgateway")" "$work/b/rootfs/bin/pushgateway"
    umoci repack --image "$work/l:$PUSHGATEWAY_VERSION" "$work/b"
    # As upstream's image: the binary is the entrypoint, nobody runs it.
    umoci config --image "$work/l:$PUSHGATEWAY_VERSION" --config.entrypoint /bin/pushgateway --config.user 65534:65534 --config.workingdir /
    umoci gc --layout "$work/l"
    archive "$work/l" "$out"
    rm -rf "$work"
    find "$IMAGES" -maxdepth 1 -name "pushgateway-$PUSHGATEWAY_VERSION-*.tar" ! -path "$out" -delete
  fi
  echo "$out docker.io/prom/pushgateway:$PUSHGATEWAY_VERSION"
}

# The code the Dockerfile's `COPY . .` takes: tracked and untracked-but-not-ignored files, minus .dockerignore.
code_files() {
  local ignore
  ignore=$(grep -v '^\s*#' "$ROOT/.dockerignore" | sed 's|/$||' | grep -v '^\s*$' | sed 's|^|^|; s|$|(/\|$)|' | paste -sd'|')
  (cd "$ROOT" && git ls-files -co --exclude-standard | grep -Ev "$ignore" | while IFS= read -r f; do [ -f "$f" ] && printf '%s\n' "$f"; done | sort)
}

build_restash() {
  local tools restic node_bin base_key base app_key out work files
  [ -n "$NODE_VERSION" ] || { log "node_modules/node is missing: run npm ci"; exit 1; }
  node_bin=$(readlink -f "$ROOT/node_modules/node/bin/node")
  tools=$(RESTASH_TOOLS=restic bash "$HERE/install-tools.sh" | tail -1)
  restic=$(readlink -f "$tools/restic")
  base_key=$(printf '%s\n' "$SUITE" "$PACKAGES" "$(sha256sum "$node_bin" "$restic" | cut -d' ' -f1)" "$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null)" | sha)
  base="$IMAGES/restash-base-$base_key"
  if [ ! -f "$base/done" ]; then
    command -v mmdebstrap >/dev/null || {
      log "installing mmdebstrap from Debian"
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
    }
    local start; start=$(date +%s)
    log "building the base layer: Debian $SUITE with $PACKAGES, Node $NODE_VERSION, restic $RESTIC_VERSION"
    rm -rf "$base" && mkdir -p "$base"
    work=$(mktemp -d)
    # The machine's own apt sources (the same Debian the rest of the project installs from).
    local sources=()
    for s in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
      [ -s "$s" ] && grep -q "$SUITE" "$s" && sources+=("$s")
    done
    [ ${#sources[@]} -gt 0 ] || { log "no apt sources for $SUITE on this machine"; exit 1; }
    new_layout "$base/layout" base
    umoci unpack --image "$base/layout:base" "$work/b" >/dev/null
    # minbase + the Dockerfile's packages; apt lists and docs dropped as the slim image drops them.
    mmdebstrap --variant=minbase --include="${PACKAGES// /,}" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
      "$SUITE" "$work/b/rootfs" "${sources[@]}" >&2
    install -m 755 "$node_bin" "$work/b/rootfs/usr/local/bin/node"
    install -m 755 "$restic" "$work/b/rootfs/usr/local/bin/restic"
    umoci repack --image "$base/layout:base" "$work/b"
    umoci gc --layout "$base/layout"
    rm -rf "$work"
    touch "$base/done"
    log "base layer built in $(( $(date +%s) - start ))s"
  fi
  # The app layer: the code and its production dependencies, keyed by every file's content.
  files=$(code_files)
  app_key=$( { printf '%s\n' "$base_key"; cd "$ROOT" && printf '%s\n' "$files" | tr '\n' '\0' | xargs -0 sha256sum; } | sha)
  out="$IMAGES/restash-$IMAGE_VERSION-$app_key.tar"
  if [ ! -f "$out" ]; then
    local start; start=$(date +%s)
    work=$(mktemp -d)
    mkdir -p "$work/app$WORKDIR" "$work/l/blobs"
    (cd "$ROOT" && printf '%s\n' "$files" | tar --no-recursion -cf - -T -) | tar -C "$work/app$WORKDIR" -xf -
    # npm ci --omit=dev with the machine's npm (pure-JS dependencies; Node itself comes from the base).
    (cd "$work/app$WORKDIR" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
    mkdir -p "$work/app/stash-tmp"
    # Blobs are content-addressed and never rewritten: link them instead of copying the base.
    cp -al "$base/layout/blobs/." "$work/l/blobs/"
    cp "$base/layout/index.json" "$base/layout/oci-layout" "$work/l/"
    umoci insert --image "$work/l:base" "$work/app$WORKDIR" "$WORKDIR"
    umoci insert --image "$work/l:base" "$work/app/stash-tmp" /stash-tmp
    local cfg=(--config.user "$IMAGE_USER" --config.workingdir "$WORKDIR" --config.env PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin)
    for e in $IMAGE_ENV; do cfg+=(--config.env "$e"); done
    umoci config --image "$work/l:base" --tag "$IMAGE_VERSION" "${cfg[@]}" \
      --config.entrypoint node --config.entrypoint /opt/restash/bin/restash.ts --config.cmd operator
    umoci rm --image "$work/l:base"
    umoci gc --layout "$work/l"
    archive "$work/l" "$out"
    rm -rf "$work"
    # Older app archives of this base are never used again.
    find "$IMAGES" -maxdepth 1 -name "restash-$IMAGE_VERSION-*.tar" ! -path "$out" -delete
    log "app layer built in $(( $(date +%s) - start ))s"
  fi
  echo "$out $IMAGE_NAME"
}

# The machine's own apt sources for $SUITE (the same Debian the rest of the project installs from).
apt_sources() {
  local s
  for s in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list; do
    [ -s "$s" ] && grep -q "$SUITE" "$s" && printf '%s\n' "$s"
  done
  return 0
}

need_mmdebstrap() {
  command -v mmdebstrap >/dev/null || {
    log "installing mmdebstrap from Debian"
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
  }
}

build_postgres() {
  local base_key base key out work entry start sources=()
  entry="$HERE/postgres-image/entrypoint.sh"
  base_key=$(printf '%s\n' "$SUITE" "$POSTGRES_PACKAGES" "$POSTGRES_DROP" "$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null)" | sha)
  base="$IMAGES/postgres-base-$base_key"
  if [ ! -f "$base/done" ]; then
    need_mmdebstrap
    start=$(date +%s)
    log "building the postgres base layer: Debian $SUITE with $POSTGRES_PACKAGES"
    mapfile -t sources < <(apt_sources)
    [ ${#sources[@]} -gt 0 ] || { log "no apt sources for $SUITE on this machine"; exit 1; }
    rm -rf "$base" && mkdir -p "$base"
    work=$(mktemp -d)
    new_layout "$base/layout" base
    umoci unpack --image "$base/layout:base" "$work/b" >/dev/null
    # The package's own cluster (pg_createcluster in its postinst) is dropped: the entrypoint makes one in PGDATA.
    # So are POSTGRES_DROP and the JIT bitcode.
    mmdebstrap --variant=minbase --include="${POSTGRES_PACKAGES// /,}" \
      --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/etc/postgresql/*/main "$1"/var/lib/postgresql/*/main' \
      --customize-hook='chroot "$1" dpkg --purge --force-depends '"$POSTGRES_DROP"' >/dev/null && rm -rf "$1"/usr/lib/postgresql/*/lib/bitcode "$1"/usr/lib/postgresql/*/lib/llvmjit*' \
      --customize-hook='mkdir -p "$1"/var/lib/postgresql/data "$1"/var/run/postgresql && chroot "$1" chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql' \
      "$SUITE" "$work/b/rootfs" "${sources[@]}" >&2
    umoci repack --image "$base/layout:base" "$work/b"
    umoci gc --layout "$base/layout"
    rm -rf "$work"
    touch "$base/done"
    find "$IMAGES" -maxdepth 1 -name "postgres-base-*" ! -path "$base" -exec rm -rf {} +
    log "postgres base layer built in $(( $(date +%s) - start ))s"
  fi
  key=$( { printf '%s\n' "$base_key"; sha256sum "$entry"; } | sha)
  out="$IMAGES/postgres-$PG_MAJOR-$key.tar"
  if [ ! -f "$out" ]; then
    work=$(mktemp -d)
    mkdir -p "$work/e" "$work/l/blobs"
    install -m 755 "$entry" "$work/e/docker-entrypoint.sh"
    cp -al "$base/layout/blobs/." "$work/l/blobs/"
    cp "$base/layout/index.json" "$base/layout/oci-layout" "$work/l/"
    umoci insert --image "$work/l:base" "$work/e/docker-entrypoint.sh" /usr/local/bin/docker-entrypoint.sh
    # As the official image: root starts it (the entrypoint owns PGDATA, then becomes postgres), SIGINT is a fast shutdown.
    umoci config --image "$work/l:base" --tag "$PG_MAJOR" --config.user 0:0 --config.workingdir / \
      --config.env "PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
      --config.env PGDATA=/var/lib/postgresql/data --config.env LANG=C.UTF-8 \
      --config.entrypoint /usr/local/bin/docker-entrypoint.sh --config.cmd postgres \
      --config.exposedports 5432/tcp --config.stopsignal SIGINT
    umoci rm --image "$work/l:base"
    umoci gc --layout "$work/l"
    archive "$work/l" "$out"
    rm -rf "$work"
    find "$IMAGES" -maxdepth 1 -name "postgres-$PG_MAJOR-*.tar" ! -path "$out" -delete
  fi
  echo "$out $POSTGRES_NAME"
}

case "$target" in
  base) build_pause; build_busybox ;;
  restash) build_restash ;;
  pushgateway) build_pushgateway ;;
  postgres) build_postgres ;;
  *) echo "usage: build-image.sh base|restash|pushgateway|postgres|spec" >&2; exit 2 ;;
esac
