"""prokopim ledger: audit trails, tamper evidence and SLA metrics from the event store."""
