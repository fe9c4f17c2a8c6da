-- How far catch-up readers may read: below the oldest transaction still running that could
-- be appending to this database's events. xids are server-wide, so pg_snapshot_xmin would
-- also wait for every writing transaction of every other database on the server; one left
-- open there (another application, a forgotten psql session) would stall the relay here.
-- A transaction that pg_stat_activity shows in another database cannot write this
-- database's tables, so its xid is left out; every xid not shown there (a transaction just
-- started, a prepared one) still holds readers back. Taken from the statement's snapshot,
-- whose visibility the read shares: every xid below the horizon has ended, or belongs to
-- another database.
CREATE OR REPLACE FUNCTION prokopim_read_horizon() RETURNS xid8
LANGUAGE sql STABLE AS $$
    SELECT coalesce(min(x), pg_snapshot_xmax(pg_current_snapshot()))
      FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE x::text::bigint % 4294967296 NOT IN (
           SELECT a.backend_xid::text::bigint
             FROM pg_stat_get_activity(NULL) AS a
            WHERE a.backend_xid IS NOT NULL
              AND a.datid IS DISTINCT FROM (SELECT d.oid FROM pg_database d
                                             WHERE d.datname = current_database()))
$$;
