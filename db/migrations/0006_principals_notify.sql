-- Every change to a principal (revocation, role change, deletion) is told to the API processes that remember principals
-- between requests (api/principal-cache.ts): they forget what they remember on any notification on this channel.
CREATE OR REPLACE FUNCTION principals_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('takedown_principals', TG_OP);
  RETURN NULL;
END
$$;--> statement-breakpoint
CREATE TRIGGER principals_changed AFTER UPDATE OR DELETE ON principals FOR EACH STATEMENT EXECUTE FUNCTION principals_notify();--> statement-breakpoint
CREATE TRIGGER principals_truncated AFTER TRUNCATE ON principals FOR EACH STATEMENT EXECUTE FUNCTION principals_notify();
