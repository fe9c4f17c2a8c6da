-- Re-driving dead letters: an operator asks (`prokopim dlq redrive`), the consumer process
-- that owns the dead letter runs its handler once more, in one transaction with its
-- processed_events row (so a re-drive takes effect at most once, like any delivery), and
-- records the outcome here. Nothing is republished on NATS: only the relay publishes.
ALTER TABLE dead_letters
    ADD COLUMN IF NOT EXISTS redrive_requested_at timestamptz,
    ADD COLUMN IF NOT EXISTS redrive_requested_by text,
    -- when the re-drive finished, and how: processed | duplicate (already applied) | failed
    ADD COLUMN IF NOT EXISTS redriven_at timestamptz,
    ADD COLUMN IF NOT EXISTS redrive_outcome text,
    ADD COLUMN IF NOT EXISTS redrive_error text;

-- What each consumer's re-drive worker polls for: few rows, found without a scan.
CREATE INDEX IF NOT EXISTS dead_letters_redrive_requested ON dead_letters (consumer)
    WHERE redrive_requested_at IS NOT NULL AND redriven_at IS NULL;
