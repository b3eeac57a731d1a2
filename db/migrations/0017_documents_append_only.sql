-- The documents partners were sent are evidence like the audit chain and the archived histories (their hashes are in
-- the chain's document.rendered entries): the database refuses UPDATE, DELETE and TRUNCATE on them, to their owner too,
-- with 0009's trigger function. prepareNotice only inserts them (ON CONFLICT DO NOTHING); nothing updates or deletes
-- them. CREATE OR REPLACE TRIGGER: the migration may run again (migrate-once.test.ts reruns the last one).
CREATE OR REPLACE TRIGGER documents_no_update_delete
  BEFORE UPDATE OR DELETE ON documents
  FOR EACH ROW EXECUTE FUNCTION append_only_refuse_change();
--> statement-breakpoint
CREATE OR REPLACE TRIGGER documents_no_truncate
  BEFORE TRUNCATE ON documents
  FOR EACH STATEMENT EXECUTE FUNCTION append_only_refuse_change();
