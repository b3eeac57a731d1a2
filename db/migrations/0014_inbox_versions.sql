-- Each org's inbox version, for the API's inbox cache (api/inbox-cache.ts): every statement that inserts, updates or
-- deletes tasks adds one to the version of each org it touched (the old and the new assignee_org of an update), in the
-- same transaction, from statement-level triggers with transition tables (one bump per org and statement; an INSERT ...
-- ON CONFLICT DO UPDATE fires the INSERT and the UPDATE trigger, each for the rows it inserted or updated). TRUNCATE
-- bumps every org. No row means version 0: no task of the org was written since this migration.
--
-- Why a version read in the same statement as a page names exactly that page: two transactions that write one org's
-- tasks take turns on its row (the upsert locks it until commit), so versions are handed out in commit order, and a
-- statement's snapshot that sees version v of an org sees every task write that led to v and none after it.
--
-- The function runs as its owner (the tables' owner, which migrates) with a fixed search_path: the application's role
-- may read inbox_versions but not write it (db/roles.ts), so no version can be set back to name an older page. A
-- CREATE OR REPLACE of it in a later migration must say SECURITY DEFINER and SET search_path again. Ordering the orgs
-- makes one statement's bumps take the rows' locks in one order. A session with session_replication_role = replica
-- (test/support/db.ts's tamper) writes tasks without bumping: the caches then keep serving what they hold.
-- Every statement may run again (IF NOT EXISTS, OR REPLACE), as test/integration/migrate-once.test.ts runs the last
-- migration twice.
CREATE TABLE IF NOT EXISTS "inbox_versions" (
	"org" text PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL
);--> statement-breakpoint
CREATE OR REPLACE FUNCTION inbox_versions_bump() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO inbox_versions AS v (org, version)
      SELECT DISTINCT n.assignee_org, 1::bigint FROM inbox_new n ORDER BY 1
      ON CONFLICT (org) DO UPDATE SET version = v.version + 1;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO inbox_versions AS v (org, version)
      SELECT x.org, 1::bigint FROM (SELECT o.assignee_org AS org FROM inbox_old o UNION SELECT n.assignee_org FROM inbox_new n) x ORDER BY 1
      ON CONFLICT (org) DO UPDATE SET version = v.version + 1;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO inbox_versions AS v (org, version)
      SELECT DISTINCT o.assignee_org, 1::bigint FROM inbox_old o ORDER BY 1
      ON CONFLICT (org) DO UPDATE SET version = v.version + 1;
  ELSE
    UPDATE inbox_versions SET version = version + 1;
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION inbox_versions_bump() FROM PUBLIC;--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS inbox_new FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_bump();--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS inbox_old NEW TABLE AS inbox_new FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_bump();--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS inbox_old FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_bump();--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_truncate AFTER TRUNCATE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_bump();
