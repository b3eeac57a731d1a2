-- Appending to a case's audit chain in one statement: the advisory lock, the idempotency check, the chain's head, the
-- hashes and the inserts all happen inside PostgreSQL, so a writer holds the case's lock for microseconds instead of
-- several round trips. Each entry arrives with `body`: its RFC 8785 canonical JSON of {action, actor, at, data},
-- without the closing brace (built by db/queries/audit.ts); the hash is
--   sha256(prevHash || body || ',"prevHash":"' || prevHash || '","seq":' || seq || '}')
-- which is exactly hashEntry() there, since "prevHash" and "seq" sort after the other keys. Returns one row per input
-- entry, in order: the stored row when its key already existed, the new row otherwise.
CREATE OR REPLACE FUNCTION audit_append(p_case_id text, p_entries jsonb) RETURNS SETOF audit_entries
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  e jsonb;
  v_seq integer;
  v_prev text;
  v_hash text;
  v_row audit_entries;
BEGIN
  -- Two-int advisory lock of class 0x415544 ("AUD"), as before this function; held until the transaction ends.
  PERFORM pg_advisory_xact_lock(4281668, hashtext(p_case_id));
  SELECT a.seq, a.hash INTO v_seq, v_prev FROM audit_entries a WHERE a.case_id = p_case_id ORDER BY a.seq DESC LIMIT 1;
  IF NOT FOUND THEN
    v_seq := 0;
    v_prev := repeat('0', 64);
  END IF;
  FOR e IN SELECT x.value FROM jsonb_array_elements(p_entries) AS x LOOP
    SELECT * INTO v_row FROM audit_entries a WHERE a.case_id = p_case_id AND a.event_key = e->>'key';
    IF NOT FOUND THEN
      v_seq := v_seq + 1;
      v_hash := encode(sha256(convert_to(v_prev || (e->>'body') || ',"prevHash":"' || v_prev || '","seq":' || v_seq::text || '}', 'UTF8')), 'hex');
      INSERT INTO audit_entries (case_id, seq, at, actor_id, actor_org, action, data, prev_hash, hash, event_key)
        VALUES (p_case_id, v_seq, (e->>'at')::timestamptz, e->>'actorId', e->>'actorOrg', e->>'action', e->'data', v_prev, v_hash, e->>'key')
        RETURNING * INTO v_row;
      v_prev := v_hash;
    END IF;
    RETURN NEXT v_row;
  END LOOP;
END;
$$;
