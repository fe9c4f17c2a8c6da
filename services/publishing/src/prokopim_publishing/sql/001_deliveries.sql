-- Publishing's delivery record: one row per effect of a publication order (the website post,
-- one mail per outlet), written and committed right after each outside call, so a crash, a
-- retry or a redelivery of the order never posts or mails again what was sent.
CREATE TABLE IF NOT EXISTS publishing_deliveries (
    effect_id      uuid PRIMARY KEY,          -- uuid5(order event id, target): the idempotency key
    case_id        uuid NOT NULL,
    cause_event_id uuid NOT NULL,          -- the stored event asking for the effect
    target         text NOT NULL,             -- 'website' or 'outlet:<outlet id>'
    state          text NOT NULL CHECK (state IN ('sending', 'sent', 'retrying', 'failed')),
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    result         text,                      -- the website's URL, or the mail's Message-ID
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (cause_event_id, target)
);
CREATE INDEX IF NOT EXISTS publishing_deliveries_case ON publishing_deliveries (case_id);
