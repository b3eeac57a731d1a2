#!/bin/sh
# First-start PostgreSQL init: the app's database with two roles (`takedown` owns the tables and migrates them;
# `takedown_app` serves, with only the privileges db/roles.ts grants it at each migration), and one role and two
# databases for Temporal. Runs once, from docker-entrypoint-initdb.d, while the server listens on its socket only.
# A volume initialised before the role split lacks `takedown_app`: create it by hand (the CREATE ROLE line below).
set -eu

: "${TAKEDOWN_DB_PASSWORD:?TAKEDOWN_DB_PASSWORD is required}"
: "${TAKEDOWN_APP_DB_PASSWORD:?TAKEDOWN_APP_DB_PASSWORD is required}"
: "${TEMPORAL_DB_PASSWORD:?TEMPORAL_DB_PASSWORD is required}"

# Passwords go through psql variables (:'name' quotes them) so no value can break out of the SQL.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v takedown_password="$TAKEDOWN_DB_PASSWORD" -v takedown_app_password="$TAKEDOWN_APP_DB_PASSWORD" \
  -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE takedown LOGIN PASSWORD :'takedown_password';
CREATE ROLE takedown_app LOGIN PASSWORD :'takedown_app_password';
CREATE DATABASE takedown OWNER takedown;
-- Only the app's two roles may connect to its database (Temporal's role among others may not).
REVOKE ALL ON DATABASE takedown FROM PUBLIC;
GRANT CONNECT ON DATABASE takedown TO takedown_app;
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
-- Nor may the app's roles connect to Temporal's (their owner keeps its rights).
REVOKE ALL ON DATABASE temporal FROM PUBLIC;
REVOKE ALL ON DATABASE temporal_visibility FROM PUBLIC;
SQL
