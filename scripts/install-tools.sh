#!/usr/bin/env bash
# Builds or installs the real services restash's tests and demo run against, into a cache outside
# the repo keyed by version, and prints the directory. Idempotent: a tool already built is reused.
#   restic, restic's rest-server, the Prometheus pushgateway   - from their Go modules
#   promtool (checks and unit-tests deploy/monitoring's alert rules) - from the Prometheus module;
#     Prometheus 3.x modules are tagged v0.3xx.y (v0.316.0 is Prometheus 3.16.0)
#   an S3-compatible server (MinIO)                             - from its Go module (MinIO tags no
#     semver module versions, so a pseudo-version pins one commit; override RESTASH_MINIO_VERSION)
#   PostgreSQL, git                                              - Debian packages (apt-get)
set -euo pipefail

CACHE="${RESTASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/restash}"
OUT="$CACHE/tools"
mkdir -p "$OUT"
mkdir -p "$CACHE"
# One build at a time, even when several test runs start together.
exec 9>"$CACHE/.tools.lock"
flock 9
log() { echo "[tools] $*" >&2; }

RESTIC_VERSION=v0.18.1
REST_SERVER_VERSION=v0.14.0
PUSHGATEWAY_VERSION=v1.11.1
PROMETHEUS_VERSION=v0.316.0
MINIO_VERSION="${RESTASH_MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}"

# build_go_tool NAME MODULE VERSION PACKAGE [LDFLAGS] [TAGS]
# A wrapper main module requires MODULE@VERSION and builds PACKAGE, which works whether or not the
# module's own go.mod has replace directives (go install refuses those).
# A cached binary is reused only if it runs (a half-written file from a killed build is rebuilt).
build_go_tool() {
  local name=$1 module=$2 version=$3 pkg=$4 ldflags=${5:-} tags=${6:-}
  local bin="$OUT/$name-$version"
  if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1 || { [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; }; then
    ln -sf "$bin" "$OUT/$name"
    return
  fi
  rm -f "$bin"
  command -v go >/dev/null || { log "go is required (Go >= 1.26) to build $name $version"; exit 1; }
  local start; start=$(date +%s)
  log "building $name $version from $module"
  local work; work=$(mktemp -d)
  (
    cd "$work"
    export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
    go mod init "restash.local/build-$name" >/dev/null 2>&1
    go get -tool "$pkg@$version" >&2
    go mod tidy >&2
    go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$bin.tmp" "$pkg"
  )
  rm -rf "$work"
  "$bin.tmp" --version >/dev/null 2>&1 || "$bin.tmp" version >/dev/null 2>&1 || { log "$name $version was built but does not run"; exit 1; }
  mv "$bin.tmp" "$bin"
  ln -sf "$bin" "$OUT/$name"
  log "$name built in $(( $(date +%s) - start ))s"
}

# RESTASH_TOOLS=restic builds restic alone (the image needs only restic).
only="${RESTASH_TOOLS:-all}"
build_go_tool restic github.com/restic/restic "$RESTIC_VERSION" github.com/restic/restic/cmd/restic \
  "-X main.version=${RESTIC_VERSION#v}"
if [ "$only" = restic ]; then echo "$OUT"; exit 0; fi
build_go_tool rest-server github.com/restic/rest-server "$REST_SERVER_VERSION" github.com/restic/rest-server/cmd/rest-server
build_go_tool pushgateway github.com/prometheus/pushgateway "$PUSHGATEWAY_VERSION" github.com/prometheus/pushgateway
if [ "${RESTASH_SKIP_PROMTOOL:-}" != 1 ]; then
  # Rule checks and rule unit tests need no service discovery: remove_all_sd leaves the cloud SDKs out.
  build_go_tool promtool github.com/prometheus/prometheus "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/promtool "" remove_all_sd
fi
if [ "${RESTASH_SKIP_S3:-}" != 1 ]; then
  build_go_tool minio github.com/minio/minio "$MINIO_VERSION" github.com/minio/minio
fi

# Debian packages: PostgreSQL (database Tasks), git (policy repositories, git daemon).
# PostgreSQL is looked up outside $OUT: a caller whose PATH already holds $OUT (a test running this
# script) would otherwise find the links made last time and link each one to itself.
SYSPATH=$(printf %s "$PATH" | tr ':' '\n' | grep -vxF "$OUT" | paste -sd: -)
syscmd() { PATH="$SYSPATH" command -v "$1" 2>/dev/null; }
need_apt=()
command -v git >/dev/null || need_apt+=(git)
if ! syscmd pg_ctl >/dev/null && ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then need_apt+=(postgresql); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]} from Debian"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi
pgctl=$(syscmd pg_ctl || ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | tail -1)
pgbin=$(dirname "${pgctl:-/nonexistent/pg_ctl}")
for b in pg_ctl initdb postgres psql pg_dump pg_dumpall; do
  if [ -x "$pgbin/$b" ]; then ln -sfn "$pgbin/$b" "$OUT/$b"; elif found=$(syscmd "$b"); then ln -sfn "$found" "$OUT/$b"; fi
done

echo "$OUT"
