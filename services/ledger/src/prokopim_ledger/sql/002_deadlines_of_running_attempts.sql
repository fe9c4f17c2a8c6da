-- Deadlines belong to running attempts (what the live SLA check waits for); a completed
-- attempt carries its measured time and status instead, and the rebuild skips computing
-- two working-time instants per attempt it will never check.
ALTER TABLE ledger_step_attempts ALTER COLUMN at_risk_at DROP NOT NULL;
ALTER TABLE ledger_step_attempts ALTER COLUMN breach_at DROP NOT NULL;
