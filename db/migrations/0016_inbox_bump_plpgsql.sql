-- inbox_versions_bump() (0014) in PL/pgSQL instead of SQL, the same statement: PostgreSQL 17 plans a SQL function that
-- it cannot inline (this one is SECURITY DEFINER with a SET clause) anew on every call, while PL/pgSQL keeps the plan
-- for the session. The bump runs at the commit of every transaction that writes tasks; measured on the embedded
-- PostgreSQL, a task write's transaction cost about 0.1-0.2 ms less of its CPU (docs/performance-experiments.md).
-- CREATE OR REPLACE keeps the owner and the grants (EXECUTE for the application's role, none for PUBLIC); it must say
-- SECURITY DEFINER and SET search_path again. May run again (migrate-once.test.ts runs the last migration twice).
CREATE OR REPLACE FUNCTION inbox_versions_bump(p_orgs text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
  INSERT INTO public.inbox_versions AS v (org, version)
    SELECT x.org, 1::bigint FROM (SELECT DISTINCT o AS org FROM unnest(p_orgs) AS o WHERE o IS NOT NULL) x ORDER BY x.org
    ON CONFLICT (org) DO UPDATE SET version = v.version + 1;
END
$$;--> statement-breakpoint
REVOKE ALL ON FUNCTION inbox_versions_bump(text[]) FROM PUBLIC;
