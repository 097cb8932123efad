#!/usr/bin/env bash
# Start or stop a throw-away PostgreSQL server on 127.0.0.1 for the tests.
#   source .ci/postgres.sh start   -> exports HPOPT_TEST_POSTGRES_URL
#   .ci/postgres.sh stop
# Uses the machine's PostgreSQL (Debian's package; installed with apt-get when missing).
set -euo pipefail
PGPORT="${HPOPT_PGPORT:-54329}"
PGDIR="${HPOPT_PGDIR:-/tmp/hpopt-pg-$PGPORT}"

pgbin() {
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$b" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    b=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$b"
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

case "${1:-start}" in
  start)
    BIN=$(pgbin)
    if [ ! -f "$PGDIR/data/PG_VERSION" ]; then
      mkdir -p "$PGDIR"
      [ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
      as_pg "$BIN/initdb -D $PGDIR/data -A trust -U postgres >/dev/null"
    fi
    if ! as_pg "$BIN/pg_ctl -D $PGDIR/data status" >/dev/null 2>&1; then
      as_pg "$BIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w -o \"-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=on\" start" >/dev/null
    fi
    as_pg "$BIN/psql -h 127.0.0.1 -p $PGPORT -U postgres -tc \"SELECT 1 FROM pg_database WHERE datname='hpopt_test'\"" | grep -q 1 \
      || as_pg "$BIN/createdb -h 127.0.0.1 -p $PGPORT -U postgres hpopt_test"
    export HPOPT_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PGPORT/hpopt_test"
    echo "PostgreSQL ready at $HPOPT_TEST_POSTGRES_URL"
    ;;
  stop)
    BIN=$(pgbin)
    as_pg "$BIN/pg_ctl -D $PGDIR/data -m fast stop" >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
    ;;
esac
