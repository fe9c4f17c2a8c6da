-- Intake's own tables (granted to the intake role only, see prokopim_events.roles).

-- One incoming letter number per office (the SOP's id): a second registration is 409
-- naming the case; the row is inserted in the transaction that opens the case.
CREATE TABLE IF NOT EXISTS intake_letters (
    office        text NOT NULL,
    letter_number text NOT NULL,
    case_id       uuid NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (office, letter_number)
);

-- `Idempotency-Key` of commands that create things: the first answer, returned again to a
-- retry with the same key and request; kept IDEMPOTENCY_KEY_RETENTION_HOURS.
CREATE TABLE IF NOT EXISTS intake_idempotency_keys (
    key          text PRIMARY KEY,
    request_hash text NOT NULL,
    status       integer,
    body         jsonb,
    location     text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS intake_idempotency_keys_created ON intake_idempotency_keys (created_at);
