-- audit_append() takes each entry's time from its caller, and the application's role may call it (0012): a time that is
-- not finite ('infinity') left the entry's time text, and so its hash, NULL, and every later entry of its case was
-- raised to it (0010) and failed the same way; a time far ahead (year 9999) dragged every later entry of the case there
-- and out of every export by time. Now an entry whose time is not finite, or lies more than an hour past the database's
-- clock, is refused with an error naming it. An hour: a workflow's times come from the Temporal server's clock, which
-- may run a little ahead of PostgreSQL's. A previous entry beyond that bound (stored before this migration, or by hand)
-- is not followed: later entries keep their own time instead of being raised to it.
-- As 0012 requires of any replacement, it says SECURITY DEFINER and its fixed search_path again; CREATE OR REPLACE keeps
-- its owner and EXECUTE grants. May run again (migrate-once.test.ts reruns the last migration).
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
  v_latest timestamptz;
BEGIN
  -- Two-int advisory lock of class 0x415544 ("AUD"), as before this function; held until the transaction ends.
  PERFORM pg_advisory_xact_lock(4281668, hashtext(p_case_id));
  -- Read once the lock is held: the latest time an entry may carry.
  v_latest := clock_timestamp() + interval '1 hour';
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
      IF v_at IS NULL OR NOT isfinite(v_at) OR v_at > v_latest THEN
        RAISE EXCEPTION 'audit entry % of case %: time % is not finite or lies more than an hour past the database clock', e->>'key', p_case_id, coalesce(e->>'at', 'null')
          USING ERRCODE = 'invalid_parameter_value', HINT = 'an entry''s time must be a finite time no later than clock_timestamp() + 1 hour';
      END IF;
      v_body := e->>'body';
      IF v_prev_at IS NOT NULL AND v_prev_at <= v_latest AND v_at < v_prev_at THEN
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
