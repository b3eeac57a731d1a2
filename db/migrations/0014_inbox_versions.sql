-- Each org's inbox version, for the API's inbox cache (api/inbox-cache.ts): every transaction that inserts, updates or
-- deletes tasks adds one to the version of each org it touched (the old and the new assignee_org of an update), when it
-- commits. Statement-level triggers with transition tables note the orgs a statement touched in a setting local to the
-- transaction (takedown.inbox_orgs, no lock taken); a deferred constraint trigger bumps all noted orgs once, in org
-- order, just before the commit. TRUNCATE bumps every org. No row means version 0: every org with tasks gets one here.
--
-- Why a version read in the same statement as a page names exactly that page: two transactions that write one org's
-- tasks take turns on its row (the bump locks it until commit), so versions are handed out in commit order, and a
-- statement's snapshot that sees version v of an org sees every task write that led to v and none after it.
--
-- Why at commit, in one sorted pass: statement triggers that each bumped their own orgs took the rows' locks in the
-- order the triggers fired (an INSERT ... ON CONFLICT DO UPDATE fires its UPDATE and its INSERT trigger one after the
-- other), so two upserts that each updated one org's task and inserted another's could lock the same two rows in
-- opposite orders and deadlock. One pass over all of a transaction's orgs, sorted, cannot; and the rows stay locked only
-- from just before the commit to its end.
--
-- inbox_versions_bump() runs as its owner (the tables' owner, which migrates) with a fixed search_path; the
-- application's role may read inbox_versions but not write it (db/roles.ts), and may call the bump, which only ever
-- raises versions (a raised version only costs a cache its copy). A CREATE OR REPLACE of it in a later migration must
-- say SECURITY DEFINER and SET search_path again. The note and commit functions run as the caller and set no
-- search_path, on purpose: a function with a SET clause undoes the transaction-local settings made inside it. A session
-- with session_replication_role = replica (test/support/db.ts's tamper) writes tasks without bumping: the caches then
-- keep serving what they hold. Every statement may run again (migrate-once.test.ts runs the last migration twice).
CREATE TABLE IF NOT EXISTS "inbox_versions" (
	"org" text PRIMARY KEY NOT NULL,
	"version" bigint NOT NULL
);--> statement-breakpoint
INSERT INTO inbox_versions (org, version) SELECT DISTINCT assignee_org, 0 FROM tasks ON CONFLICT (org) DO NOTHING;--> statement-breakpoint
CREATE OR REPLACE FUNCTION inbox_versions_bump(p_orgs text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  INSERT INTO public.inbox_versions AS v (org, version)
    SELECT x.org, 1::bigint FROM (SELECT DISTINCT o AS org FROM unnest(p_orgs) AS o WHERE o IS NOT NULL) x ORDER BY x.org
    ON CONFLICT (org) DO UPDATE SET version = v.version + 1
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION inbox_versions_bump(text[]) FROM PUBLIC;--> statement-breakpoint
CREATE OR REPLACE FUNCTION inbox_versions_note() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_orgs text[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    v_orgs := ARRAY(SELECT DISTINCT n.assignee_org FROM inbox_new n);
  ELSIF TG_OP = 'UPDATE' THEN
    v_orgs := ARRAY(SELECT o.assignee_org FROM inbox_old o UNION SELECT n.assignee_org FROM inbox_new n);
  ELSE
    v_orgs := ARRAY(SELECT DISTINCT o.assignee_org FROM inbox_old o);
  END IF;
  IF pg_catalog.cardinality(v_orgs) > 0 THEN
    PERFORM pg_catalog.set_config('takedown.inbox_orgs',
      (coalesce(nullif(pg_catalog.current_setting('takedown.inbox_orgs', true), ''), '{}')::text[] || v_orgs)::text, true);
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION inbox_versions_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  v_noted text := pg_catalog.current_setting('takedown.inbox_orgs', true);
BEGIN
  -- The first row's event does the transaction's bump; the others find nothing noted.
  IF v_noted IS NOT NULL AND v_noted <> '' THEN
    PERFORM public.inbox_versions_bump(v_noted::text[]);
    PERFORM pg_catalog.set_config('takedown.inbox_orgs', '', true);
  END IF;
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE OR REPLACE FUNCTION inbox_versions_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  -- TRUNCATE holds tasks exclusively: no writer is between its bump and its commit meanwhile.
  UPDATE public.inbox_versions SET version = version + 1;
  RETURN NULL;
END
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION inbox_versions_truncate() FROM PUBLIC;--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS inbox_new FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_note();--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_update AFTER UPDATE ON tasks REFERENCING OLD TABLE AS inbox_old NEW TABLE AS inbox_new FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_note();--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_delete AFTER DELETE ON tasks REFERENCING OLD TABLE AS inbox_old FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_note();--> statement-breakpoint
CREATE OR REPLACE TRIGGER tasks_inbox_truncate AFTER TRUNCATE ON tasks FOR EACH STATEMENT EXECUTE FUNCTION inbox_versions_truncate();--> statement-breakpoint
DROP TRIGGER IF EXISTS tasks_inbox_commit ON tasks;--> statement-breakpoint
CREATE CONSTRAINT TRIGGER tasks_inbox_commit AFTER INSERT OR UPDATE OR DELETE ON tasks DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION inbox_versions_at_commit();
