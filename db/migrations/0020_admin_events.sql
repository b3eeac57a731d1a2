-- What admins change outside any case (a partner's webhook or secret, a principal created or revoked), kept like the
-- evidence: the database refuses UPDATE, DELETE and TRUNCATE on it, to its owner too, with 0009's trigger function, and
-- the application's role may only read and insert (db/roles.ts). Every statement may run again (migrate-once.test.ts
-- runs the last migration twice).
CREATE TABLE IF NOT EXISTS "admin_events" (
	"id" text PRIMARY KEY NOT NULL,
	"at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"actor_id" text NOT NULL,
	"actor_org" text NOT NULL,
	"action" text NOT NULL,
	"subject" text NOT NULL,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "admin_events_at_idx" ON "admin_events" USING btree ("at","id");--> statement-breakpoint
CREATE OR REPLACE TRIGGER admin_events_no_update_delete
  BEFORE UPDATE OR DELETE ON admin_events
  FOR EACH ROW EXECUTE FUNCTION append_only_refuse_change();
--> statement-breakpoint
CREATE OR REPLACE TRIGGER admin_events_no_truncate
  BEFORE TRUNCATE ON admin_events
  FOR EACH STATEMENT EXECUTE FUNCTION append_only_refuse_change();
