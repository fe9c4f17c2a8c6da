-- Scheduling's own tables: read models written in the same transaction as the events that
-- change them (resources, bookings, the leader's agenda), and the calendar feeds' secrets.
-- The exclusion constraint on scheduling_bookings is what makes a double booking impossible
-- under races: two transactions reserving one resource for overlapping windows cannot both
-- commit.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE IF NOT EXISTS scheduling_resources (
    resource_id uuid        PRIMARY KEY,
    office      text        NOT NULL,
    type        text        NOT NULL CHECK (type IN ('crew', 'equipment')),
    name        text        NOT NULL,            -- a person's name, an item's label
    roles       text[]      NOT NULL DEFAULT '{}',  -- crew: the SOP roles they can fill
    contact     text,
    kind        text,                            -- equipment: the SOP's input id
    condition   text        CHECK (condition IN ('available', 'in-repair')),
    version     int         NOT NULL,            -- of its stream scheduling-resource-<id>
    updated_at  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS scheduling_resources_office ON scheduling_resources (office, type);

CREATE TABLE IF NOT EXISTS scheduling_bookings (
    booking_id      uuid        PRIMARY KEY,      -- uuid5(case, resource): stable UID
    case_id         uuid        NOT NULL,
    resource_id     uuid        NOT NULL REFERENCES scheduling_resources,
    office          text        NOT NULL,
    role            text,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    during          tstzrange   NOT NULL,         -- [start - buffer, end + buffer)
    summary         text        NOT NULL,
    location        text,
    sequence        int         NOT NULL DEFAULT 0,
    status          text        NOT NULL DEFAULT 'confirmed'
                                CHECK (status IN ('confirmed', 'cancelled')),
    override_reason text,
    updated_at      timestamptz NOT NULL,
    CONSTRAINT scheduling_bookings_no_overlap
        EXCLUDE USING gist (resource_id WITH =, during WITH &&)
        WHERE (status = 'confirmed' AND override_reason IS NULL)
);
CREATE INDEX IF NOT EXISTS scheduling_bookings_case ON scheduling_bookings (case_id);
CREATE INDEX IF NOT EXISTS scheduling_bookings_resource
    ON scheduling_bookings USING gist (resource_id, during);

-- One row per case: its place on the leader's agenda (tentative: only its date is known).
CREATE TABLE IF NOT EXISTS scheduling_agenda (
    case_id       uuid        PRIMARY KEY,
    office        text        NOT NULL,
    sop_id        text        NOT NULL,
    sop_version   text        NOT NULL,
    leader        text        NOT NULL,
    venue         text,
    activity_name text        NOT NULL,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    tentative     boolean     NOT NULL,
    status        text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'cancelled')),
    sequence      int         NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS scheduling_agenda_office ON scheduling_agenda (office, starts_at);

-- Calendar feeds: the secret is kept only as its SHA-256; revoking sets revoked_at.
CREATE TABLE IF NOT EXISTS scheduling_feeds (
    feed_id     uuid        PRIMARY KEY,
    office      text        NOT NULL,
    scope       text        NOT NULL CHECK (scope IN ('crew', 'equipment', 'office')),
    resource_id uuid        REFERENCES scheduling_resources,
    token_hash  bytea       NOT NULL,
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
