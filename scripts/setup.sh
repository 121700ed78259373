#!/usr/bin/env bash
# Everything a fresh machine needs: npm packages (with Node 24 pinned as a package), the control
# plane binaries and the real services. Idempotent; slow only the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
node_modules/.bin/node --version >/dev/null
bash scripts/build-control-plane.sh >/dev/null
bash scripts/install-tools.sh >/dev/null
echo "setup done: node $(node_modules/.bin/node --version)"
