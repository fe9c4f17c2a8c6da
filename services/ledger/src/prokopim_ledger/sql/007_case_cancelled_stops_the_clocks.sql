-- A cancelled case stops its SLA clocks. Scheduling's `case-cancelled` event counts as a
-- step-completing fact (decision `cancelled`, no step): the fold gives it a completion
-- mark at every step of the SOP and keeps those that end a running attempt, which it
-- closes at the cancellation (outcome `cancelled`, the reason kept); the others count
-- nothing. sla.fold_case specifies the same. The view and the function are those of
-- 001 and 004 with these changes only.

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

CREATE OR REPLACE FUNCTION ledger_sla_attempt_rows(facts text, low uuid, high uuid)
RETURNS TABLE (
    case_id uuid, step int, attempt int, sop_id text, sop_version text, role text,
    assignees text[], entered_at timestamptz, entered_position bigint,
    standard_seconds double precision, at_risk_at timestamptz, breach_at timestamptz,
    completed_at timestamptz, completed_position bigint, completed_by text, outcome text,
    reason text, working_seconds double precision, status text,
    opened_at timestamptz, closes_at timestamptz
) LANGUAGE plpgsql STABLE AS $function$
BEGIN
IF facts NOT IN ('ledger_sla_facts', 'ledger_sla_source_facts') THEN
    RAISE EXCEPTION 'no such facts view: %', facts;
END IF;
-- the facts view is named in the text, so that a rebuild's second connection reading the
-- events never touches (nor waits for the lock on) ledger_audit
RETURN QUERY EXECUTE format($query$
WITH x AS MATERIALIZED (
    SELECT * FROM %I WHERE case_id BETWEEN $1 AND $2
), staff AS (
    SELECT x.position, x.assignments FROM x
     WHERE x.assignments IS NOT NULL
       AND CASE jsonb_typeof(x.assignments) WHEN 'array'
                THEN jsonb_array_length(x.assignments) > 0 ELSE false END
), staff_names AS (  -- each assignment's staff names per role, in their order
    SELECT s.position, a.e ->> 'role' AS role, array_agg(a.e ->> 'name' ORDER BY a.i) AS names
      FROM staff s, jsonb_array_elements(s.assignments) WITH ORDINALITY AS a (e, i)
     GROUP BY s.position, a.e ->> 'role'
), f AS (
    SELECT x.case_id, x.position, x.occurred_at, x.step, x.next_step, x.decision, x.reason,
           x.actor_id, x.before_s, x.into_s,
           first_value(x.sop_id) OVER c AS case_sop,
           first_value(x.sop_version) OVER c AS case_version,
           first_value(x.occurred_at) OVER c AS opened_at,
           max(s.position) OVER c AS staff_now,
           max(s.position) OVER (PARTITION BY x.case_id) AS staff_last
      FROM x LEFT JOIN staff s ON s.position = x.position
    WINDOW c AS (PARTITION BY x.case_id ORDER BY x.position)
), m AS (
    SELECT f.case_id, f.position, f.occurred_at, f.next_step, f.decision, f.reason,
           f.actor_id, f.case_sop, f.case_version, f.opened_at, f.before_s, f.into_s,
           k.step, k.kind, k.cancel,
           CASE k.kind WHEN 0 THEN f.staff_now ELSE f.staff_last END AS staff_at,
           lag(f.position * 2 + k.kind) OVER p AS prev_key,  -- position and kind
           lag(f.occurred_at) OVER p AS prev_at,
           lag(f.before_s) OVER p AS prev_before,
           lag(f.into_s) OVER p AS prev_into,
           lead(k.kind) OVER p AS next_kind
      FROM f CROSS JOIN LATERAL (
          SELECT v.step, v.kind, false FROM (VALUES (f.step, 0), (f.next_step, 1)) AS v (step, kind)
          UNION ALL  -- a cancellation: a completion mark at every step of the SOP
          SELECT p.step, 0, true FROM ledger_sla_plan p
           WHERE f.decision = 'cancelled' AND p.step > 0
             AND (p.sop_id, p.sop_version) = (f.case_sop, f.case_version)
      ) AS k (step, kind, cancel)
     WHERE k.step IS NOT NULL
    WINDOW p AS (PARTITION BY f.case_id, k.step ORDER BY f.position, k.kind)
), n AS (
    SELECT m.*, m.prev_key %% 2 = 1 AS entered,
           sum(CASE WHEN m.kind = 1 OR (m.prev_key %% 2 IS DISTINCT FROM 1 AND NOT m.cancel)
                    THEN 1 ELSE 0 END)
               OVER (PARTITION BY m.case_id, m.step ORDER BY m.position, m.kind
                     ROWS UNBOUNDED PRECEDING) AS number
      FROM m
)
SELECT n.case_id,
       n.step,
       n.number::int,
       n.case_sop,
       n.case_version,
       p.role,
       coalesce(s.names, '{}'::text[]),
       CASE WHEN n.kind = 0 AND n.entered THEN n.prev_at ELSE n.occurred_at END,
       CASE WHEN n.kind = 0 AND n.entered THEN n.prev_key / 2 ELSE n.position END,
       p.standard_seconds,
       CASE WHEN n.kind = 1 THEN ledger_after_working(
           n.occurred_at, n.before_s, n.into_s, 0.75 * p.standard_seconds) END,
       CASE WHEN n.kind = 1 THEN ledger_after_working(
           n.occurred_at, n.before_s, n.into_s, p.standard_seconds) END,
       CASE WHEN n.kind = 0 THEN n.occurred_at END,
       CASE WHEN n.kind = 0 THEN n.position END,
       CASE WHEN n.kind = 0 THEN n.actor_id END,
       CASE WHEN n.kind = 0 THEN coalesce(n.decision, 'completed') END,
       CASE WHEN n.kind = 0 AND n.decision IN ('rejected', 'cancelled') THEN n.reason END,
       u.used,
       CASE WHEN n.kind = 1 THEN NULL
            WHEN u.used > p.standard_seconds THEN 'breached'
            WHEN u.used >= 0.75 * p.standard_seconds THEN 'at-risk'
            ELSE 'on-time' END,
       n.opened_at,
       CASE WHEN n.kind = 0 AND n.next_step IS NULL THEN n.occurred_at END
  FROM n
  CROSS JOIN LATERAL (
      SELECT CASE WHEN n.kind = 1 THEN NULL
                  WHEN n.entered
                  THEN greatest((n.before_s - n.prev_before) + (n.into_s - n.prev_into), 0)
                  ELSE 0 END::double precision AS used
  ) AS u
  LEFT JOIN ledger_sla_plan p
    ON (p.sop_id, p.sop_version, p.step) = (n.case_sop, n.case_version, n.step)
  LEFT JOIN staff_names s ON s.position = n.staff_at AND s.role = p.role
 WHERE (n.kind = 0 AND (n.entered OR NOT n.cancel)) OR (n.kind = 1 AND n.next_kind IS NULL)
$query$, facts) USING low, high;
END
$function$;
