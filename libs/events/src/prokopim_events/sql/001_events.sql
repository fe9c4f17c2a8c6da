-- The append-only event log. It is also the outbox: the relay publishes it to NATS.
--
-- Catch-up readers order by (transaction_id, global_position) and read only rows whose
-- transaction is older than every transaction still running (pg_snapshot_xmin). An identity
-- value is taken at insert but becomes visible at commit, so ordering by position alone
-- could skip a late-committing row; ordering by the writing transaction cannot, and needs
-- no lock across appends (the design Emmett uses; see README "Event store").
CREATE TABLE IF NOT EXISTS events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL CHECK (stream_version > 0),
    type            text        NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    -- sha256(previous event's chain_hash in this stream || this event's content)
    chain_hash      bytea       NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);

CREATE INDEX IF NOT EXISTS events_commit_order ON events (transaction_id, global_position);
-- No index on type: nothing reads by type (consumers filter by NATS subject), and each
-- index slows every append (a batch append measured ~20% faster without this one).

CREATE OR REPLACE FUNCTION prokopim_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the events table is append-only: % refused', TG_OP
        USING ERRCODE = 'PK002';
END $$;

DROP TRIGGER IF EXISTS events_append_only ON events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION prokopim_refuse_change();
DROP TRIGGER IF EXISTS events_no_truncate ON events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION prokopim_refuse_change();

-- Append a batch to one stream in one round trip. Raises PK409 (with the stream's actual
-- version as DETAIL) when the stream is not at p_expected_version; a racing append at the
-- same version fails on events_stream_version_unique instead. p_events is a JSON array of
-- the events' canonical forms, [event_id, stream_id, version, type, data, metadata, micros]
-- (see prokopim_events.chain): one document to parse instead of arrays of small ones.
-- p_digests are their sha256; each chain_hash is
-- sha256(previous chain_hash in the stream || digest).
CREATE OR REPLACE FUNCTION prokopim_append(
    p_stream_id text, p_expected_version bigint, p_events jsonb,
    p_occurred_at timestamptz[], p_digests bytea[]
) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    v_current bigint;
    v_hash bytea;
    v_hashes bytea[];
    v_positions bigint[];
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
        v_hash := sha256(v_hash || p_digests[i]);
        v_hashes[i] := v_hash;
    END LOOP;
    WITH inserted AS (
        INSERT INTO events (event_id, stream_id, stream_version, type, data, metadata,
                            occurred_at, chain_hash)
        SELECT (u.e->>0)::uuid, p_stream_id, p_expected_version + u.ord, u.e->>3, u.e->4,
               u.e->5, p_occurred_at[u.ord], v_hashes[u.ord]
          FROM jsonb_array_elements(p_events) WITH ORDINALITY AS u(e, ord)
         ORDER BY u.ord
        RETURNING global_position
    )
    SELECT array_agg(global_position ORDER BY global_position) INTO v_positions FROM inserted;
    RETURN v_positions;
END $$;

-- Where each relay (by name) has published up to, in commit order.
CREATE TABLE IF NOT EXISTS relay_checkpoints (
    relay_name      text PRIMARY KEY,
    transaction_id  xid8   NOT NULL,
    global_position bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Consumers record each event they acted on in the same transaction as the effect.
CREATE TABLE IF NOT EXISTS processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Poison messages: what failed, how often, and why.
CREATE TABLE IF NOT EXISTS dead_letters (
    consumer   text NOT NULL,
    event_id   uuid NOT NULL,
    type       text NOT NULL,
    subject    text NOT NULL,
    payload    jsonb NOT NULL,
    error      text NOT NULL,
    attempts   int  NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
