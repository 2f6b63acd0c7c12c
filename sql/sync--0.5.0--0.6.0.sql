-- sync 0.5.0 -> 0.6.0: thousands of series on a default server (issue 12).
--
-- What changes for users (each section below says what it adds):
--  - REST series run on a bounded pool of worker processes (sync.max_workers)
--    instead of one process each; a series waiting for the pool shows phase
--    'queued' in sync_status().

\echo Use "ALTER EXTENSION sync UPDATE TO '0.6.0'" to load this file. \quit
