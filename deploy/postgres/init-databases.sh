#!/bin/sh
# First-start PostgreSQL init: one role and database for the app, one role and two databases for Temporal.
# Runs once, from docker-entrypoint-initdb.d, while the server listens on its socket only.
set -eu

: "${TAKEDOWN_DB_PASSWORD:?TAKEDOWN_DB_PASSWORD is required}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required}"

# Passwords go through psql variables (:'name' quotes them) so no value can break out of the SQL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v takedown_password="$TAKEDOWN_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE takedown LOGIN PASSWORD :'takedown_password';
CREATE DATABASE takedown OWNER takedown;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
