-- The status page's expected dates: which SOP a milestone belongs to, the step it completed
-- and the step the case went to (NULL for milestones completing no step, and for rows
-- recorded before this column existed: such a case shows no expected dates until its next
-- milestone).
ALTER TABLE scheduling_milestones
    ADD COLUMN IF NOT EXISTS sop_id    text,
    ADD COLUMN IF NOT EXISTS sop_version text,
    ADD COLUMN IF NOT EXISTS step      integer,
    ADD COLUMN IF NOT EXISTS next_step integer;
