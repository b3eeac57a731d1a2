-- Only audit_append() writes audit entries. It runs with its owner's rights (the tables' owner, which migrates) and a
-- fixed search_path, and the application's role gets EXECUTE on it but no INSERT on audit_entries (db/roles.ts): a
-- raw INSERT could plant rows the function would then chain onto, a seq that stops every later append for the case, or
-- an id of its choosing (OVERRIDING SYSTEM VALUE). A CREATE OR REPLACE of this function in a later migration must say
-- SECURITY DEFINER and SET search_path again, or it falls back to running as the caller.
ALTER FUNCTION audit_append(text, jsonb) SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp;--> statement-breakpoint
REVOKE ALL ON FUNCTION audit_append(text, jsonb) FROM PUBLIC;
