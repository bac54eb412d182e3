#!/usr/bin/env bash
# Stands in for the postgres image's entrypoint, doing what its documentation promises
# (https://hub.docker.com/_/postgres, "Environment Variables"): on an empty PGDATA, initdb
# with POSTGRES_USER (default postgres) and POSTGRES_PASSWORD, password authentication
# (scram-sha-256) for every host, POSTGRES_DB (default: the user) created; then the server
# listening on all of the pod's addresses. Written for the process tier, not copied.
set -euo pipefail
: "${POSTGRES_PASSWORD:?the image refuses to start without POSTGRES_PASSWORD}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  # The image runs initdb under LANG=en_US.utf8, so its databases are UTF8; C.UTF-8 is the
  # UTF-8 locale every Debian has.
  initdb --username="$user" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
  printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  if [[ "$db" != postgres ]]; then
    postgres --single -D "$PGDATA" postgres <<<"CREATE DATABASE \"$db\";" >/dev/null
  fi
fi
shift
exec postgres -c listen_addresses="${POD_LISTEN_ADDRESS:-*}" "$@"
