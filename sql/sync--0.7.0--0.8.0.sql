-- sync 0.7.0 -> 0.8.0: storage at the physical limit (issue 14).
--
-- What changes for users: nothing in the schema.  The workers now write
-- their pages as heap tuples through the table AM's multi-insert (no COPY
-- text), and log each page's rollup invalidation themselves, so the
-- statement trigger that reads a transition table runs only for other
-- writers' changes; streams parse in one process and store in another.
-- The catalog's comments below say so, since \df+ and \d+ are where a
-- user looks first.
--
-- A fresh install runs sync--0.1.0.sql and then every update script, so
-- what is written here lands in fresh and updated databases alike.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.8.0'" to load this file. \quit

COMMENT ON FUNCTION sync._invalidate_rollups() IS
    'internal: statement trigger on sync.bars and sync.trades logging the time range each statement touched into sync.rollup_invalidations (skipped when sync.keep_rollups is on); sync''s workers log the range of each page they write themselves and do not fire it';
COMMENT ON TABLE sync.rollup_invalidations IS
    'time ranges of 1-minute input changed since the rollups were last refreshed: one row per page sync''s workers store and per statement of other writers (the trigger sync._invalidate_rollups()); drained by sync.refresh_rollups()';
