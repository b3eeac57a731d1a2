-- When each audit row was written, by PostgreSQL's clock: the export's `since` mode pages by it, so an incremental
-- exporter misses no entry that commits late with an older `at` (the event's time, which the chain hashes). Not hashed.
-- Rows already stored get -infinity (a constant default, so adding the column rewrites nothing and fires no trigger);
-- rows written from now on get clock_timestamp() at insert.
ALTER TABLE "audit_entries" ADD COLUMN "recorded_at" timestamp with time zone DEFAULT '-infinity' NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_entries" ALTER COLUMN "recorded_at" SET DEFAULT clock_timestamp();--> statement-breakpoint
CREATE INDEX "audit_recorded_idx" ON "audit_entries" USING btree ("recorded_at","id");
