#!/bin/sh
# The postgres image's entrypoint (scripts/build-image.sh postgres): the environment of the
# docker.io/library/postgres image, for what restash's tests and users' manifests set:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_USER (postgres),
#   POSTGRES_DB (= POSTGRES_USER), PGDATA (/var/lib/postgresql/data), POSTGRES_INITDB_ARGS.
# An empty PGDATA is initialised once (initdb, then the database), then the server runs in the
# foreground as the postgres user, listening on every address with password authentication.
set -eu

PGDATA="${PGDATA:-/var/lib/postgresql/data}"
export PGDATA
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
AUTH="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"

if [ "${1:-postgres}" != postgres ]; then exec "$@"; fi
shift $(( $# > 0 ? 1 : 0 ))

if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /var/run/postgresql
  chmod 700 "$PGDATA"
  chown -R postgres:postgres "$PGDATA" /var/run/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" postgres "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$AUTH" != trust ]; then
    echo "postgres: POSTGRES_PASSWORD is not set (set it, or POSTGRES_HOST_AUTH_METHOD=trust)" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile"
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host="$AUTH" ${POSTGRES_INITDB_ARGS:-} >&2
  rm -f "$pwfile"
  printf 'host all all all %s\n' "$AUTH" >> "$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\n" >> "$PGDATA/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >&2
    psql -X -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres -c "CREATE DATABASE \"$POSTGRES_DB\"" >&2
    pg_ctl -D "$PGDATA" -m fast -w stop >&2
  fi
  echo "postgres: initialised $PGDATA" >&2
fi

exec postgres "$@"
