#!/usr/bin/env bash
# Writes a test fixture from a PostgreSQL database that Meet's Django backend created and filled:
# the whole schema (every table Django's migrations made, with their constraints and indexes),
# then the rows of `django_migrations` and of Meet's own tables.
#
#   scripts/django-fixture.sh DATABASE UPSTREAM_COMMIT > tests/fixtures/django_<commit>.sql
#
# The output is plain SQL that any PostgreSQL client (and the test suite) can run in one go:
# pg_dump's psql meta-commands and its empty search_path are removed.
set -euo pipefail
db=$1
commit=$2
pg=(-h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" --no-owner --no-privileges)
clean() { grep -v -e '^\\' -e "^SELECT pg_catalog.set_config('search_path'" -e '^--' | cat -s; }
echo "-- Schema and a few rows of a database created by Meet's Django backend at upstream $commit"
echo "-- (python manage.py migrate, then users logged in through OIDC, rooms and accesses created"
echo "-- through its API, recordings through its models). Made by scripts/django-fixture.sh."
pg_dump "${pg[@]}" --schema-only "$db" | clean
tables=(django_migrations meet_user meet_resource meet_room meet_resource_access meet_recording meet_recording_access)
for t in meet_application meet_application_domain; do
  if psql -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" -Atc "SELECT to_regclass('public.$t')" "$db" | grep -q .; then
    tables+=("$t")
  fi
done
pg_dump "${pg[@]}" --data-only --inserts "${tables[@]/#/-t}" "$db" | clean
