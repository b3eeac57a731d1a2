-- The workflow task that made each projection write and audit entry, as a fence: its history length then. A worker cut
-- off from Temporal but not from PostgreSQL can finish a local activity after the task's rerun wrote; its write must not
-- win. The rerun's history is longer: the lost attempt's timeout is written to it. (Temporal writes no events for the
-- attempts after that, so the second and later attempts of one task share a fence, and among them the version decides
-- as before.) cases and tasks compare (fence, version),
-- and an audit entry meeting another event under its key supersedes it only from a later fence (activities/cases.ts,
-- db/queries/audit.ts). 0 (rows) and NULL (entries) mean unknown: rows from before this migration, writers outside a
-- workflow. Constant defaults: adding the columns rewrites nothing and fires no trigger.
ALTER TABLE "audit_entries" ADD COLUMN IF NOT EXISTS "fence" integer;--> statement-breakpoint
ALTER TABLE "cases" ADD COLUMN IF NOT EXISTS "fence" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "tasks" ADD COLUMN IF NOT EXISTS "fence" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
-- audit_append() stores the fence given with each entry (not hashed). As 0012 requires of any replacement, it stays
-- SECURITY DEFINER with a fixed search_path; its EXECUTE grants are kept by CREATE OR REPLACE.
CREATE OR REPLACE FUNCTION audit_append(p_case_id text, p_entries jsonb) RETURNS SETOF audit_entries
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  e jsonb;
  v_seq integer;
  v_prev text;
  v_prev_at timestamptz;
  v_at timestamptz;
  v_body text;
  v_given text;
  v_pos integer;
  v_hash text;
  v_row audit_entries;
BEGIN
  -- Two-int advisory lock of class 0x415544 ("AUD"), as before this function; held until the transaction ends.
  PERFORM pg_advisory_xact_lock(4281668, hashtext(p_case_id));
  SELECT a.seq, a.hash, a.at INTO v_seq, v_prev, v_prev_at FROM audit_entries a WHERE a.case_id = p_case_id ORDER BY a.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    v_seq := 0;
    v_prev := repeat('0', 64);
    v_prev_at := NULL;
  END IF;
  FOR e IN SELECT x.value FROM jsonb_array_elements(p_entries) AS x LOOP
    SELECT * INTO v_row FROM audit_entries a WHERE a.case_id = p_case_id AND a.event_key = e->>'key';
    IF NOT FOUND THEN
      v_seq := v_seq + 1;
      v_at := (e->>'at')::timestamptz;
      v_body := e->>'body';
      IF v_prev_at IS NOT NULL AND v_at < v_prev_at THEN
        v_given := '"at":"' || (e->>'at') || '"';
        v_pos := position(v_given IN v_body);
        IF v_pos > 0 THEN
          v_at := v_prev_at;
          v_body := overlay(v_body PLACING '"at":"' || to_char(v_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"' FROM v_pos FOR length(v_given));
        END IF;
      END IF;
      v_hash := encode(sha256(convert_to(v_prev || v_body || ',"prevHash":"' || v_prev || '","seq":' || v_seq::text || '}', 'UTF8')), 'hex');
      INSERT INTO audit_entries (case_id, seq, at, actor_id, actor_org, action, data, prev_hash, hash, event_key, fence)
        VALUES (p_case_id, v_seq, v_at, e->>'actorId', e->>'actorOrg', e->>'action', e->'data', v_prev, v_hash, e->>'key', (e->>'fence')::integer)
        RETURNING * INTO v_row;
      v_prev := v_hash;
      v_prev_at := v_at;
    END IF;
    RETURN NEXT v_row;
  END LOOP;
END;
$$;
