#!/usr/bin/env bash
# Idempotently start PostgreSQL and create the wagemap role, databases and the PostGIS extension.
# The role is NOSUPERUSER NOBYPASSRLS so row-level security applies to the app.
set -euo pipefail
PGPASS="${WAGEMAP_PG_PASSWORD:-wagemap}"
ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
psql_su() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $*"; }
psql_su "-c \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='wagemap') THEN CREATE ROLE wagemap LOGIN PASSWORD '$PGPASS' CREATEDB NOSUPERUSER NOBYPASSRLS; ELSE ALTER ROLE wagemap LOGIN PASSWORD '$PGPASS' NOSUPERUSER NOBYPASSRLS; END IF; END\\\$\\\$;\""
# pg_trgm (emergency search, migration 0004) is trusted, but under FORCE ROW LEVEL SECURITY an index serves
# only LEAKPROOF operators: mark its similarity operators so (they compare two strings, no data-dependent
# error). Only a superuser may; without it the search is answered the same way by sequential scans.
TRGM_LEAKPROOF="similarity_op word_similarity_op word_similarity_commutator_op strict_word_similarity_op strict_word_similarity_commutator_op"
trgm() {
  local args="-d $1 -c \"CREATE EXTENSION IF NOT EXISTS pg_trgm\""
  for f in $TRGM_LEAKPROOF; do args="$args -c \"ALTER FUNCTION $f(text, text) LEAKPROOF\""; done
  psql_su "$args"
}
for db in wagemap wagemap_test wagemap_template; do
  if [ -z "$(psql_su "-c \"SELECT 1 FROM pg_database WHERE datname='$db'\"")" ]; then
    psql_su "-c \"CREATE DATABASE $db OWNER wagemap\""
  fi
  psql_su "-d $db -c \"CREATE EXTENSION IF NOT EXISTS postgis\""
  trgm "$db"
done
# databases of the role made before pg_trgm was in the template (benchmark stores): their migration 0004
# created the extension as the owner, without the LEAKPROOF marks
for db in $(psql_su "-c \"SELECT datname FROM pg_database WHERE datallowconn AND pg_get_userbyid(datdba) = 'wagemap'\""); do
  if [ -n "$(psql_su "-d $db -c \"SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'\"")" ]; then trgm "$db"; fi
done

# tests clone a database per session from this template (see tests/conftest.py)
psql_su "-c \"UPDATE pg_database SET datistemplate = true WHERE datname='wagemap_template'\""
echo "PostGIS ready: postgresql+psycopg://wagemap:***@127.0.0.1:5432/wagemap_test"
