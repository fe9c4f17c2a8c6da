-- One active relay per name, elected by a lease that must be renewed: a relay that stops
-- making progress (hung, SIGSTOP) loses it within the lease time, unlike a session
-- advisory lock that a stopped process keeps. Each grant takes a new token; the checkpoint
-- moves only while the mover's token is the current, unexpired one (fencing).
CREATE TABLE IF NOT EXISTS relay_leases (
    relay_name  text PRIMARY KEY,
    token       bigint NOT NULL,
    holder      text NOT NULL,
    backend_pid int NOT NULL,
    renewed_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

-- What the relay last saw of the stream: a stream recreated (another `created`) or behind
-- the sequence it acked last has lost events, and the relay re-publishes from the store.
ALTER TABLE relay_checkpoints ADD COLUMN IF NOT EXISTS stream_created timestamptz;
ALTER TABLE relay_checkpoints ADD COLUMN IF NOT EXISTS stream_sequence bigint;

-- Events the bus refused for good (too large, say): kept out of the way so that every
-- later event is still relayed; listed by `prokopim relay quarantine`.
CREATE TABLE IF NOT EXISTS relay_quarantine (
    relay_name      text NOT NULL,
    event_id        uuid NOT NULL,
    global_position bigint NOT NULL,
    type            text NOT NULL,
    stream_id       text NOT NULL,
    error           text NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (relay_name, event_id)
);
