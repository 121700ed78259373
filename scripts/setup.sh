#!/usr/bin/env bash
# Everything a fresh machine needs: npm packages (with Node 24 pinned as a package), the control
# plane binaries and the real services. Idempotent; slow only the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node_modules/.bin/node --version >/dev/null
# Debian packages the tests use beyond the ones install-tools.sh handles: a Lua 5.1 interpreter (Argo CD
# runs health checks in gopher-lua, Lua 5.1) with a JSON module, git's daemon for git:// remotes, and
# OpenSSH (a test sshd serves policy repositories to ssh:// PolicySources; ssh and ssh-keygen).
missing=()
command -v lua5.1 >/dev/null || missing+=(lua5.1)
[ -f /usr/share/lua/5.1/dkjson.lua ] || missing+=(lua-dkjson)
command -v git >/dev/null || missing+=(git)
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The node first: its one go build makes kube-apiserver and kubectl too (build-control-plane.sh --node),
# so the control plane below is already there.
bash scripts/build-node.sh >/dev/null
bash scripts/build-control-plane.sh >/dev/null
bash scripts/install-tools.sh >/dev/null
# The images the node runs, built without a Docker daemon and imported, never pulled.
for image in base pushgateway restash; do bash scripts/build-image.sh "$image" >/dev/null; done
echo "setup done: node $(node_modules/.bin/node --version)"
