-- Overlaps on the leader's agenda are looked for on every booking: without this index that
-- look-up read every active case of the office (a year of a busy office: thousands of rows
-- per booking, growing without bound); with it, only the cases around the window.
CREATE INDEX IF NOT EXISTS scheduling_agenda_during
    ON scheduling_agenda USING gist (office, tstzrange(starts_at, ends_at))
    WHERE status = 'active';
