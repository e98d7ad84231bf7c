#!/usr/bin/env bash
# CI helper: install (Debian package), start and prepare a local PostgreSQL for the tests.
# Prints one line `export DARKPOOL_TEST_POSTGRES_URL=...` on stdout (everything else on
# stderr); the role may create databases, so each test gets a fresh one.
# Needs root (apt-get, su postgres); idempotent.
set -euo pipefail
log() { echo "ci-postgres: $*" >&2; }
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  log "installing postgresql (Debian package)"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
fi
version=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$version" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" && $4 == "online"' | grep -q .; then
  log "starting cluster $version/main"
  pg_ctlcluster "$version" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
for _ in $(seq 1 30); do
  su postgres -c "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 1
done
su postgres -c "psql -p $port -qv ON_ERROR_STOP=1" >&2 <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'darkpool') THEN
    CREATE ROLE darkpool LOGIN CREATEDB PASSWORD 'darkpool';
  END IF;
END $$;
SQL
if ! su postgres -c "psql -p $port -qAtc \"select 1 from pg_database where datname='darkpool_test'\"" | grep -q 1; then
  su postgres -c "createdb -p $port -O darkpool darkpool_test" >&2
fi
echo "export DARKPOOL_TEST_POSTGRES_URL=postgresql+psycopg://darkpool:darkpool@127.0.0.1:$port/darkpool_test"
