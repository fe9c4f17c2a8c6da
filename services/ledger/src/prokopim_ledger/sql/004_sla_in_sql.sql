-- The tables the SQL fold reads: the configuration materialised from Python
-- (sql_config.py). The fold's functions and views are not frozen here: sla_sql.py
-- re-creates them from code (CREATE OR REPLACE) at start-up and before a rebuild.

-- Each step's role and standard in working seconds; step 0 holds the SOP's total.
CREATE TABLE IF NOT EXISTS ledger_sla_plan (
    sop_id           text             NOT NULL,
    sop_version      text             NOT NULL,
    step             int              NOT NULL,
    role             text             NOT NULL,
    standard_seconds double precision NOT NULL
);  -- no index: the fold hashes these few rows instead of probing per attempt

-- Every local day of the years the events span: its office opening instant, its working
-- seconds (0 on a day off) and the working seconds of all earlier days in the table.
-- The working time between two instants is the difference of their cumulative positions.
CREATE TABLE IF NOT EXISTS ledger_working_days (
    day             date             PRIMARY KEY,
    opens           timestamptz      NOT NULL,
    length          double precision NOT NULL,
    before_seconds  double precision NOT NULL,
    through_seconds double precision NOT NULL  -- before_seconds + length
);
CREATE INDEX IF NOT EXISTS ledger_working_days_through
    ON ledger_working_days (through_seconds, day);

-- Which calendar and catalog the two tables above were made from, and the days covered.
CREATE TABLE IF NOT EXISTS ledger_sla_config (
    one         boolean PRIMARY KEY DEFAULT true CHECK (one),
    timezone    text    NOT NULL,
    fingerprint text    NOT NULL,
    first_day   date    NOT NULL,
    last_day    date    NOT NULL
);
