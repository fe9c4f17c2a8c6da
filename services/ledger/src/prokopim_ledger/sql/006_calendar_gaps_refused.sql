-- A fact on a day the working-calendar table does not cover is refused, never measured as
-- if it were not there: the rebuild covers the years of the store's first and last events
-- and, refused, covers every event's year and starts again (see rebuild.py).
CREATE OR REPLACE FUNCTION ledger_calendar_gap(at timestamptz) RETURNS double precision
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RAISE EXCEPTION 'the working calendar does not cover %', at USING ERRCODE = 'LC001';
END
$$;

CREATE OR REPLACE VIEW ledger_sla_facts AS
SELECT a.case_id, a.global_position AS position, a.occurred_at, a.step, a.next_step,
       a.decision, a.reason, a.actor_id, a.sop_id, a.sop_version, a.assignments,
       d.before_seconds AS before_s,
       CASE WHEN d.day IS NULL THEN ledger_calendar_gap(a.occurred_at)
            ELSE least(greatest(date_part('epoch', a.occurred_at - d.opens), 0), d.length)
       END AS into_s
  FROM ledger_audit a
  LEFT JOIN ledger_working_days d
    ON d.day = (a.occurred_at AT TIME ZONE (SELECT timezone FROM ledger_sla_config))::date
 WHERE a.completes;

CREATE OR REPLACE VIEW ledger_sla_source_facts AS
SELECT a.case_id, a.global_position AS position, a.occurred_at, a.step, a.next_step,
       a.decision, a.reason, a.actor_id, a.sop_id, a.sop_version, a.assignments,
       d.before_seconds AS before_s,
       CASE WHEN d.day IS NULL THEN ledger_calendar_gap(a.occurred_at)
            ELSE least(greatest(date_part('epoch', a.occurred_at - d.opens), 0), d.length)
       END AS into_s
  FROM ledger_audit_source a
  LEFT JOIN ledger_working_days d
    ON d.day = (a.occurred_at AT TIME ZONE (SELECT timezone FROM ledger_sla_config))::date
 WHERE a.completes;
