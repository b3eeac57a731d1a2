-- A partner's replaced secrets, as many as still sign: `retired_secrets` (newest first, each {"secret", "until"}) takes
-- the place of previous_secret and previous_secret_until (0015), which held one. With one slot, a second change of the
-- secret within the overlap (TAKEDOWN_SECRET_OVERLAP) dropped the first secret at once, though the partner may still
-- have verified with it alone, and every notice it then refused became the case lead's exception to resolve. A secret
-- still signing is moved over with its time; one past it is not. Every statement may run again (migrate-once.test.ts
-- runs the last migration twice): the move runs only while the old columns exist.
ALTER TABLE "partners" ADD COLUMN IF NOT EXISTS "retired_secrets" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'partners' AND column_name = 'previous_secret') THEN
    UPDATE partners
       SET retired_secrets = jsonb_build_array(jsonb_build_object('secret', previous_secret,
             'until', to_char(previous_secret_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
     WHERE previous_secret IS NOT NULL AND previous_secret_until > now();
    ALTER TABLE partners DROP COLUMN previous_secret, DROP COLUMN previous_secret_until;
  END IF;
END
$$;
