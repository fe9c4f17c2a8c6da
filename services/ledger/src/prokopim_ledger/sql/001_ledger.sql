-- The ledger's projections. Every table here but ledger_sla_alerts is rebuilt from the
-- events table by `prokopim replay`; none of them holds anything the store does not.

-- One audit row per stored event, as the view below reads it off the event. The live
-- consumer and the rebuild both insert through that view, so they cannot disagree.
CREATE TABLE IF NOT EXISTS ledger_audit (
    global_position bigint      PRIMARY KEY,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    type            text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    actor_id        text        NOT NULL,
    actor_role      text        NOT NULL,
    actor_name      text,
    case_id         uuid,
    sop_id          text,
    sop_version     text,
    step            int,
    next_step       int,
    completes       boolean     NOT NULL,  -- the event completes `step`
    inputs          jsonb,                 -- kelengkapan id -> reference
    outputs         jsonb,                 -- output ids
    decision        text,                  -- approved | rejected (review decisions)
    reason          text,                  -- rejection reason, approval note, instruction
    assignments     jsonb                  -- staff assigned (StaffAssigned)
);
CREATE INDEX IF NOT EXISTS ledger_audit_case ON ledger_audit (case_id, global_position);
CREATE INDEX IF NOT EXISTS ledger_audit_actor ON ledger_audit (actor_id, occurred_at);
CREATE INDEX IF NOT EXISTS ledger_audit_time ON ledger_audit (occurred_at);

CREATE OR REPLACE VIEW ledger_audit_source AS
SELECT e.global_position,
       e.event_id,
       e.stream_id,
       e.type,
       e.occurred_at,
       e.recorded_at,
       e.metadata -> 'actor' ->> 'id' AS actor_id,
       e.metadata -> 'actor' ->> 'role' AS actor_role,
       e.metadata -> 'actor' ->> 'name' AS actor_name,
       (e.data ->> 'case_id')::uuid AS case_id,
       e.data ->> 'sop_id' AS sop_id,
       e.data ->> 'sop_version' AS sop_version,
       (e.data ->> 'step')::int AS step,
       (e.data ->> 'next_step')::int AS next_step,
       e.data ? 'next_step' AND e.data ? 'case_id' AS completes,
       e.data -> 'inputs' AS inputs,
       e.data -> 'outputs' AS outputs,
       CASE e.type
           WHEN 'prokopim.review.draft-approved.v1' THEN 'approved'
           WHEN 'prokopim.review.draft-rejected.v1' THEN 'rejected'
       END AS decision,
       coalesce(e.data ->> 'reason', e.data ->> 'note', e.data ->> 'instruction') AS reason,
       e.data -> 'assignments' AS assignments
  FROM events e;

-- Every attempt at a step: from entering it to the event completing it, in working time.
CREATE TABLE IF NOT EXISTS ledger_step_attempts (
    case_id            uuid             NOT NULL,
    step               int              NOT NULL,
    attempt            int              NOT NULL,
    sop_id             text             NOT NULL,
    sop_version        text             NOT NULL,
    role               text             NOT NULL,
    assignees          text[]           NOT NULL,
    entered_at         timestamptz      NOT NULL,
    entered_position   bigint           NOT NULL,
    standard_seconds   double precision NOT NULL,
    at_risk_at         timestamptz      NOT NULL,
    breach_at          timestamptz      NOT NULL,
    completed_at       timestamptz,
    completed_position bigint,
    completed_by       text,
    outcome            text,
    reason             text,
    working_seconds    double precision,
    status             text,
    PRIMARY KEY (case_id, step, attempt)
);
CREATE INDEX IF NOT EXISTS ledger_attempts_open ON ledger_step_attempts (at_risk_at)
    WHERE completed_at IS NULL;
CREATE INDEX IF NOT EXISTS ledger_attempts_done ON ledger_step_attempts (sop_id, completed_at);

-- One row per case: its totals against the SOP's total standard.
CREATE TABLE IF NOT EXISTS ledger_cases (
    case_id          uuid             PRIMARY KEY,
    sop_id           text             NOT NULL,
    sop_version      text             NOT NULL,
    opened_at        timestamptz      NOT NULL,
    closed_at        timestamptz,
    working_seconds  double precision NOT NULL,
    standard_seconds double precision NOT NULL,
    status           text             NOT NULL,
    attempts         int              NOT NULL,
    rework_loops     int              NOT NULL,
    breaches         int              NOT NULL
);

-- Live SLA events the ledger appended: one per case, step, attempt and threshold. Not a
-- projection (a rebuild keeps it), so a replay never publishes an alert twice.
CREATE TABLE IF NOT EXISTS ledger_sla_alerts (
    case_id     uuid        NOT NULL,
    step        int         NOT NULL,
    attempt     int         NOT NULL,
    threshold   text        NOT NULL,  -- at-risk | breached
    event_id    uuid        NOT NULL UNIQUE,
    appended_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, step, attempt, threshold)
);
