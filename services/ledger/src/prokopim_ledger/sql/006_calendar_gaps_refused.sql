-- The calendar-gap refusal and the facts views that use it are re-created from code
-- (sla_sql.py) at start-up and before a rebuild; this migration is kept so that databases
-- which applied it keep a consistent migration history.
SELECT 1;
