-- Archived histories are evidence like the audit chain: the database refuses UPDATE, DELETE and TRUNCATE on them (the
-- archive activity only inserts, ON CONFLICT DO NOTHING).
CREATE OR REPLACE FUNCTION append_only_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER history_archives_no_update_delete
  BEFORE UPDATE OR DELETE ON history_archives
  FOR EACH ROW EXECUTE FUNCTION append_only_refuse_change();
--> statement-breakpoint
CREATE TRIGGER history_archives_no_truncate
  BEFORE TRUNCATE ON history_archives
  FOR EACH STATEMENT EXECUTE FUNCTION append_only_refuse_change();
