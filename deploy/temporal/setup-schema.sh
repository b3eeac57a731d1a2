#!/bin/sh
# One-shot: creates or upgrades Temporal's persistence and visibility schemas in PostgreSQL (safe to rerun on every `up`).
set -eu

SCHEMA_ROOT=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
  case "$db" in
    temporal) dir="$SCHEMA_ROOT/temporal/versioned" ;;
    *) dir="$SCHEMA_ROOT/visibility/versioned" ;;
  esac
  # setup-schema -v 0.0 only creates the version tables when missing; update-schema applies what is new.
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" setup-schema -v 0.0
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" update-schema -d "$dir"
done
echo "Temporal schemas are up to date"
