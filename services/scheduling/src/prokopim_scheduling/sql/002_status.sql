-- The requester's status page: a case's milestones, as scheduling's consumer saw them pass
-- (only what the requester may see: which milestone, when; never who).
CREATE TABLE IF NOT EXISTS scheduling_milestones (
    case_id         uuid        NOT NULL,
    global_position bigint      NOT NULL,
    type            text        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    PRIMARY KEY (case_id, global_position)
);
