-- Keyed chains (see prokopim_events.chain and docs/tamper-evidence.md). Each event's chain
-- hash becomes HMAC-SHA256(chain key, previous chain_hash || digest || transaction id ||
-- recorded_at in µs): the key stays outside the database (the append passes the HMAC's
-- two key blocks as parameters), and the columns the database assigns are covered too.
-- chain_key_id names the key; '' means appended without one; NULL marks the events
-- appended before this migration, chained as sha256(previous || digest).
ALTER TABLE events ADD COLUMN IF NOT EXISTS chain_key_id text;
ALTER TABLE event_seals ADD COLUMN IF NOT EXISTS key_id text;

DROP FUNCTION IF EXISTS prokopim_append(text, bigint, jsonb, timestamptz[], bytea[]);

-- Append a batch to one stream in one round trip (a single event is one plain INSERT, see
-- prokopim_events.store). Raises PK409 (with the stream's actual version as DETAIL) when
-- the stream is not at p_expected_version; a racing append at the same version fails on
-- events_stream_version_unique instead. p_events is a JSON array of the events' canonical
-- forms, [event_id, stream_id, version, type, data, metadata, micros]; p_digests are their
-- sha256; p_outer/p_inner the chain key's HMAC blocks ('' without a key).
CREATE OR REPLACE FUNCTION prokopim_append(
    p_stream_id text, p_expected_version bigint, p_events jsonb,
    p_occurred_at timestamptz[], p_digests bytea[],
    p_key_id text, p_outer bytea, p_inner bytea
) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    v_current bigint;
    v_hash bytea;
    v_hashes bytea[];
    v_positions bigint[];
    -- what the column defaults will hold, as the chain covers them
    v_tail bytea := int8send(pg_current_xact_id()::text::bigint)
                 || int8send((extract(epoch FROM now()) * 1000000)::bigint);
BEGIN
    SELECT e.stream_version, e.chain_hash INTO v_current, v_hash FROM events e
     WHERE e.stream_id = p_stream_id ORDER BY e.stream_version DESC LIMIT 1;
    IF NOT FOUND THEN
        v_current := 0;
        v_hash := ''::bytea;
    END IF;
    IF v_current <> p_expected_version THEN
        RAISE EXCEPTION 'wrong expected version' USING ERRCODE = 'PK409', DETAIL = v_current::text;
    END IF;
    FOR i IN 1 .. cardinality(p_digests) LOOP
        v_hash := sha256(p_outer || sha256(p_inner || v_hash || p_digests[i] || v_tail));
        v_hashes[i] := v_hash;
    END LOOP;
    WITH inserted AS (
        INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata,
                            occurred_at, chain_key_id, chain_hash)
        SELECT (u.e->>0)::uuid, p_stream_id, p_expected_version + u.ord, u.e->>3, u.e->4,
               u.e->5, p_occurred_at[u.ord], p_key_id, v_hashes[u.ord]
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS u(e, ord)
         ORDER BY u.ord
        RETURNING global_position
    )
    SELECT array_agg(global_position ORDER BY global_position) INTO v_positions FROM inserted;
    RETURN v_positions;
END $$;
