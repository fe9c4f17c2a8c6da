-- A cancelled case stops its SLA clocks. Scheduling's `case-cancelled` event counts as a
-- step-completing fact (decision `cancelled`, no step): the fold gives it a completion
-- mark at every step of the SOP and keeps those that end a running attempt, which it
-- closes at the cancellation (outcome `cancelled`, the reason kept); the others count
-- nothing. sla.fold_case specifies the same. The view is 001's with these changes only;
-- the fold's function, ledger_sla_attempt_rows, is re-created from sla_sql.py at start-up
-- (the cancellation is part of it there).

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
       (e.data ? 'next_step' AND e.data ? 'case_id') OR e.type = 'prokopim.scheduling.case-cancelled.v1' AS completes,
       e.data -> 'inputs' AS inputs,
       e.data -> 'outputs' AS outputs,
       CASE e.type
           WHEN 'prokopim.review.draft-approved.v1' THEN 'approved'
           WHEN 'prokopim.review.draft-rejected.v1' THEN 'rejected'
           WHEN 'prokopim.scheduling.case-cancelled.v1' THEN 'cancelled'
       END AS decision,
       coalesce(e.data ->> 'reason', e.data ->> 'note', e.data ->> 'instruction') AS reason,
       e.data -> 'assignments' AS assignments
  FROM events e;
