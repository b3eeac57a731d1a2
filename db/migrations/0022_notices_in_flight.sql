-- The notices still being delivered (pending or retrying), by org: what the takedown_notices_in_flight gauge counts at
-- every scrape, without reading every notice ever sent. Small: delivered, failed and other ended notices are not in it.
-- May run again (migrate-once.test.ts runs the last migration twice).
CREATE INDEX IF NOT EXISTS "notices_in_flight_idx" ON "notices" USING btree ("org","state") WHERE "notices"."state" IN ('pending', 'retrying');
