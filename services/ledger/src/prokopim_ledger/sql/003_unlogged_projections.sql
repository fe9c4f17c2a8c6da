-- The projections are a cache of the events table: written without WAL they rebuild about
-- twice as fast. A crash empties unlogged tables; the ledger then rebuilds them from the
-- store when it starts (see app.py). ledger_sla_alerts stays logged: it is the record that
-- each live alert was published once.
ALTER TABLE ledger_audit SET UNLOGGED;
ALTER TABLE ledger_step_attempts SET UNLOGGED;
ALTER TABLE ledger_cases SET UNLOGGED;
