-- Seals of the global order (tamper evidence; see docs/tamper-evidence.md). Each stream's
-- events are chained by `events.chain_hash`; a seal covers one range of global positions:
-- a hash over every event in it (position and chain hash, in position order) chained to the
-- seal before. Written by `prokopim_events.seals.seal_pending`, checked by `prokopim verify`.
CREATE TABLE IF NOT EXISTS event_seals (
    seal_number    bigint  PRIMARY KEY CHECK (seal_number > 0),
    first_position bigint  NOT NULL UNIQUE,   -- one seal per range, however many sealers run
    last_position  bigint  NOT NULL UNIQUE CHECK (last_position >= first_position),
    -- positions of the range that hold no event (their transaction rolled back)
    gaps           bigint[] NOT NULL,
    -- the first 8 bytes of each sealed event's chain hash, in position order: they locate
    -- a change inside a range whose hash no longer matches
    fingerprints   bytea   NOT NULL,
    previous_hash  bytea   NOT NULL,
    seal_hash      bytea   NOT NULL,
    sealed_at      timestamptz NOT NULL DEFAULT now()
);

CREATE OR REPLACE FUNCTION prokopim_refuse_seal_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event_seals table is append-only: % refused', TG_OP
        USING ERRCODE = 'PK002';
END $$;

DROP TRIGGER IF EXISTS event_seals_append_only ON event_seals;
CREATE TRIGGER event_seals_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON event_seals
    FOR EACH STATEMENT EXECUTE FUNCTION prokopim_refuse_seal_change();
