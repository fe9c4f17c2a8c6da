-- The read API's projection: one row per case with what people search it by (the
-- requester, the activity's name and date, the letter), written from the case's
-- request-received audit row by a trigger, so the live consumer and the rebuild (which
-- both insert audit rows) fill it alike without knowing of it.
CREATE TABLE IF NOT EXISTS ledger_case_index (
    case_id             uuid        PRIMARY KEY,
    sop_id              text        NOT NULL,
    sop_version         text        NOT NULL,
    letter_number       text,
    subject             text,
    requester_name      text,
    requester_agency    text,
    activity_name       text,
    activity_date       date,
    registered_at       timestamptz NOT NULL,
    registered_position bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_case_index_recent
    ON ledger_case_index (registered_at DESC, case_id DESC);
CREATE INDEX IF NOT EXISTS ledger_case_index_activity_date
    ON ledger_case_index (activity_date);

CREATE OR REPLACE FUNCTION ledger_index_case() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_case_index
    SELECT (e.data ->> 'case_id')::uuid, e.data ->> 'sop_id', e.data ->> 'sop_version',
           e.data -> 'case' ->> 'letter_number', e.data -> 'case' ->> 'subject',
           e.data -> 'case' -> 'requester' ->> 'name',
           e.data -> 'case' -> 'requester' ->> 'agency',
           e.data -> 'case' ->> 'activity_name',
           (e.data -> 'case' ->> 'activity_date')::date,
           e.occurred_at, e.global_position
      FROM events e
     WHERE e.global_position = NEW.global_position
    ON CONFLICT (case_id) DO NOTHING;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS ledger_case_index_fill ON ledger_audit;
CREATE TRIGGER ledger_case_index_fill AFTER INSERT ON ledger_audit
    FOR EACH ROW WHEN (NEW.type = 'prokopim.intake.request-received.v1')
    EXECUTE FUNCTION ledger_index_case();

-- Cases projected before this migration.
INSERT INTO ledger_case_index
SELECT (e.data ->> 'case_id')::uuid, e.data ->> 'sop_id', e.data ->> 'sop_version',
       e.data -> 'case' ->> 'letter_number', e.data -> 'case' ->> 'subject',
       e.data -> 'case' -> 'requester' ->> 'name',
       e.data -> 'case' -> 'requester' ->> 'agency',
       e.data -> 'case' ->> 'activity_name',
       (e.data -> 'case' ->> 'activity_date')::date,
       e.occurred_at, e.global_position
  FROM ledger_audit a JOIN events e USING (global_position)
 WHERE a.type = 'prokopim.intake.request-received.v1'
ON CONFLICT (case_id) DO NOTHING;

-- The worklist: running attempts per role, oldest first.
CREATE INDEX IF NOT EXISTS ledger_attempts_open_role
    ON ledger_step_attempts (role, entered_at, case_id) WHERE completed_at IS NULL;
