# The operator and runner image: Node 24 and restic. The same image runs the operator, the backup
# sidecar, the backup/restore Jobs, the restore init-container and the trigger CronJob
# (`restash <command>`), as Stash's single `stash` image does.
#
# The commands below are the ones the test suite runs outside a container: scripts/install-tools.sh
# builds restic from its Go module, and `npm ci` installs the pinned dependencies.

FROM golang:1.26-bookworm AS restic
WORKDIR /src
COPY scripts/install-tools.sh scripts/install-tools.sh
RUN RESTASH_CACHE=/cache RESTASH_TOOLS=restic bash scripts/install-tools.sh

# Node pinned to the version package.json pins (scripts/build-image.sh builds the same image without Docker).
FROM node:24.21.0-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates git openssh-client postgresql-client \
    && rm -rf /var/lib/apt/lists/*
COPY --from=restic /cache/tools/restic /usr/local/bin/restic
WORKDIR /opt/restash
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
USER 65534:65534
# Every restash pod mounts its scratch emptyDir at /stash-tmp under a read-only root filesystem:
# TMPDIR there too, so os.tmpdir() (policy clones, the operator's scratch files) is writable.
ENV NODE_ENV=production RESTASH_SCRATCH_DIR=/stash-tmp TMPDIR=/stash-tmp
ENTRYPOINT ["node", "/opt/restash/bin/restash.ts"]
CMD ["operator"]
