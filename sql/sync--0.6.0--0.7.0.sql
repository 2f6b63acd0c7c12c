-- sync 0.6.0 -> 0.7.0: a catalog that explains itself (issue 15).
--
-- What changes for users (each section below says what it adds):
--  - every function, table, view, sequence and column of the extension
--    has a comment, so \df+ and \d+ say what an object is, its units, who
--    may use it (sync_reader, sync_admin, the owner) and where the docs
--    are; test/sql/09_comments.sql fails when a new object has none;
--  - sync.subscription_metrics.data_age_seconds, and so sync_metrics()'s
--    sync_lag_seconds and the postgres_exporter queries, are never below
--    zero (a provider's clock may run ahead of ours), like
--    sync_status().lag.
--
-- A fresh install runs sync--0.1.0.sql and then every update script, so
-- what is written here lands in fresh and updated databases alike.

\echo Use "ALTER EXTENSION sync UPDATE TO '0.7.0'" to load this file. \quit

-- Lag never below zero ------------------------------------------------------
--
-- The view keeps its columns (names, types, order); only data_age_seconds
-- is clamped.  The clock of a provider that runs ahead of ours, or a bar
-- whose time is ahead, made it negative before.

CREATE OR REPLACE VIEW sync.subscription_metrics AS
SELECT src.name AS source, s.symbol, s.dataset,
       extract(epoch FROM s.bar_interval)::bigint AS bar_interval_seconds,
       coalesce(CASE WHEN s.state = 'error' THEN 'error' END, m.phase,
                CASE WHEN sync._supervisor_pid() IS NOT NULL THEN 'pending' ELSE 'stopped' END) AS phase,
       (m.worker_pid IS NOT NULL)::integer AS up,
       s.rows_stored, s.rows_rejected,
       greatest(extract(epoch FROM now() - s.synced_through)::float8, 0) AS data_age_seconds,
       coalesce(m.consecutive_failures, 0) AS consecutive_failures,
       (coalesce(m.rate_limited_until, '-infinity') > now())::integer AS rate_limited,
       coalesce(m.http[1], 0) AS http_2xx, coalesce(m.http[2], 0) AS http_3xx,
       coalesce(m.http[3], 0) AS http_4xx, coalesce(m.http[4], 0) AS http_rate_limited,
       coalesce(m.http[5], 0) AS http_5xx, coalesce(m.http[6], 0) AS http_failed,
       coalesce((SELECT sum(x) FROM unnest(m.commit_buckets) x), 0)::bigint AS commits,
       coalesce(m.commit_seconds, 0) AS commit_seconds,
       coalesce(m.reconnects, 0) AS reconnects,
       m.last_success, m.commit_buckets
  FROM sync.subscriptions s
  JOIN sync.sources src ON src.id = s.source_id
  LEFT JOIN sync._worker_metrics() m ON m.job_id = s.id;

-- The schema ------------------------------------------------------------------

COMMENT ON SCHEMA sync IS
    'tables, views and internal functions of the sync extension (market data kept in sync by background workers); its API functions sync_* live in the extension''s schema; see docs/reference.md';

-- API functions (the extension's schema) --------------------------------------

COMMENT ON FUNCTION @extschema@.sync_add_source(text, text, text, text, jsonb, jsonb) IS
    'register a market-data provider (binance, alpaca, polygon, coinbase, csv) under a name; credentials go to sync.source_secrets, options are checked key by key; returns the source id. sync_admin. See docs/reference.md';
COMMENT ON FUNCTION @extschema@.sync_drop_source(text) IS
    'remove a source with its secrets and subscriptions; stored bars and trades stay. sync_admin';
COMMENT ON FUNCTION @extschema@.sync_subscribe(text, text[], text, interval, timestamptz, boolean) IS
    'keep symbols of a source in sync: dataset bars (at a bar_interval the provider offers) or trades, backfilled from history_from, then polled or streamed (realtime); returns the subscription ids. sync_admin';
COMMENT ON FUNCTION @extschema@.sync_unsubscribe(text, text[], text) IS
    'stop keeping symbols of a source in sync (stored data stays); returns how many subscriptions went. sync_admin';
COMMENT ON FUNCTION @extschema@.sync_backfill(text, text, text, timestamptz, timestamptz, interval) IS
    'a one-off backfill of bars in [from_ts, to_ts), run by the workers and tracked in sync.job_runs; returns its run id. sync_admin';
COMMENT ON FUNCTION @extschema@.sync_start() IS
    'start this database''s workers (remembered across server restarts) and release jobs stopped for crashing the server; true once its supervisor runs, false if it did not come up in time (see the server log). sync_admin';
COMMENT ON FUNCTION @extschema@.sync_stop() IS
    'stop this database''s workers gracefully: they commit what they hold and exit (remembered across restarts); false if not running. sync_admin';
COMMENT ON FUNCTION @extschema@.sync_status() IS
    'one row per subscription. source, symbol, dataset, bar_interval (NULL for trades); phase: queued (waiting for a pool worker), pending, backfill, realtime, idle, retrying, error or stopped; worker_pid: the process carrying it; synced_through: checkpoint, everything before it is stored; backfill_progress: 0 to 1 of history_from..now; lag: in phase realtime, the clock minus the newest event stored, never below zero; rows_stored, rows_rejected; last_error, last_error_at; retry_at: next attempt after a failure; reconnects: streams carrying it lost or renewed since sync started. sync_reader. See docs/reference.md';
COMMENT ON FUNCTION @extschema@.sync_health() IS
    'one row per component (sync, worker <source>/<symbol>/<dataset>, source <name>, aggregator, scheduler, rollup <name>, schedule <name>, stream <source>, pool): status ok, degraded or down, and detail, the reason. sync_reader. See docs/reference.md';
COMMENT ON FUNCTION @extschema@.sync_metrics() IS
    'Prometheus text exposition of sync''s counters and gauges (sync_up, sync_rows_stored_total, sync_series_phase, sync_lag_seconds ...; times in seconds). sync_reader. List in docs/operations.md';
COMMENT ON FUNCTION @extschema@.sync_resample(text, text, interval, timestamptz, timestamptz, text) IS
    'OHLCV bars (ts, open, high, low, close, volume, trades, vwap) of any whole-minute width from the 1-minute bars (or trades) of [from_ts, to_ts), optionally inside an exchange session of sync.sessions (XNYS, XNAS). sync_reader. See docs/rollups.md';
COMMENT ON FUNCTION @extschema@.sync_schedule(text, text, jsonb) IS
    'create or replace a recurring job (kind backfill or gap_repair) run by the scheduler worker, cron in UTC; returns its first run time. sync_admin. See docs/reference.md#cron-and-jobs';
COMMENT ON FUNCTION @extschema@.sync_unschedule(text) IS
    'remove a schedule; false if there was none of that name. sync_admin';
COMMENT ON FUNCTION @extschema@.sync_set_retention(text, interval) IS
    'keep a dataset (bars, trades, rejects, bars_5m, bars_15m, bars_1h, bars_1d) for this long (NULL: forever); the scheduler deletes older rows in batches. sync_admin';

-- Functions of schema sync that people call ---------------------------------

COMMENT ON FUNCTION sync.refresh_rollups(integer) IS
    'fold up to max_ranges pending changes (sync.rollup_invalidations) into the rollup tables now; returns how many it claimed, 0 when another session is refreshing. The aggregator worker calls it every sync.aggregate_interval_ms. sync_admin';
COMMENT ON FUNCTION sync.rebuild_rollups() IS
    'mark every stored series for recomputation (e.g. after restoring data with triggers disabled); the aggregator then rebuilds all rollups; returns the series marked. sync_admin';
COMMENT ON FUNCTION sync.run_due_schedules() IS
    'run every schedule that is due, once even when several firings were missed, recording each in sync.job_runs; returns how many ran. Called by the scheduler worker; the extension owner only';
COMMENT ON FUNCTION sync.apply_retention(integer) IS
    'delete up to batch rows per dataset older than its sync.retention policy; returns the rows deleted. Called by the scheduler worker every sync.retention_interval_ms; the extension owner only';
COMMENT ON FUNCTION sync.purge_job_history(integer) IS
    'delete finished sync.job_runs rows older than days (0 or less: none); returns the rows deleted. Called by the scheduler worker with sync.job_history_days; the extension owner only';

-- Internal functions (a leading underscore: not an API, may change) -------------

COMMENT ON FUNCTION sync._provider_max_page(text) IS
    'internal: the largest page a provider''s REST API serves; used by sync._check_options() for the page_size option';
COMMENT ON FUNCTION sync._provider_intervals(text) IS
    'internal: the bar intervals a provider delivers; used by sync_subscribe() and sync_backfill()';
COMMENT ON FUNCTION sync._check_url(text, text, text[]) IS
    'internal: raise an error for a URL sync cannot use (scheme, host, user info, query); used by sync_add_source()';
COMMENT ON FUNCTION sync._check_options(text, jsonb) IS
    'internal: raise an error for a source option that is unknown or out of range; used by sync_add_source()';
COMMENT ON FUNCTION sync._source_id(text) IS
    'internal: the id of a source by name, or an error naming it; used by the API functions';
COMMENT ON FUNCTION sync._check_dataset(text) IS
    'internal: raise an error unless the dataset is bars or trades; used by the API functions';
COMMENT ON FUNCTION sync._check_symbols(text[]) IS
    'internal: raise an error for an empty list or a malformed symbol; used by the API functions';
COMMENT ON FUNCTION sync._supervisor_pid() IS
    'internal (C): the pid of this database''s supervisor, NULL when sync is not running; used by sync_status(), sync_health() and the views';
COMMENT ON FUNCTION sync._worker_status() IS
    'internal (C): one row per job slot of this database from shared memory: its kind (subscription, run, aggregator, scheduler, streamer, pool) and id, process, phase, errors, and for a series its pool worker and wait; used by sync_status() and sync_health()';
COMMENT ON FUNCTION sync._worker_metrics() IS
    'internal (C): the counters each job keeps in shared memory (HTTP answers by class, failures, rate limit, commit latency buckets, reconnects); used by sync.subscription_metrics and sync_status()';
COMMENT ON FUNCTION sync._origin() IS
    'internal: the origin (2000-01-01 00:00 UTC) every rollup bucket is aligned to, so 1d buckets are UTC days; used by the rollups and sync_resample()';
COMMENT ON FUNCTION sync._bucket_ranges(interval, bigint[]) IS
    'internal: merged bucket ranges of a width covering the pending sync.rollup_invalidations; used by the bars_<level> views and sync.refresh_rollups()';
COMMENT ON FUNCTION sync._minutes(text, text, timestamptz, timestamptz) IS
    'internal: 1-minute input of one symbol: provider 1-minute bars, and minutes built from trades where there is no such bar; used by the rollups';
COMMENT ON FUNCTION sync._aggregate_minutes(text, text, interval, timestamptz, timestamptz, timestamptz) IS
    'internal: buckets of a width over one symbol''s 1-minute input; used by the bars_<level> views, sync.refresh_rollups() and sync_resample()';
COMMENT ON FUNCTION sync._invalidate_rollups() IS
    'internal: statement trigger on sync.bars and sync.trades logging the time range each statement touched into sync.rollup_invalidations (skipped when sync.keep_rollups is on)';
COMMENT ON FUNCTION sync._cron_field(text, text, text, integer, integer, text[], integer) IS
    'internal: the values one field of a cron expression allows, or an error naming the field; used by sync._cron_next()';
COMMENT ON FUNCTION sync._cron_next(text, timestamptz) IS
    'internal: the first firing of a cron expression (UTC) after a time, NULL if it never fires; used by sync_schedule() and sync.run_due_schedules()';
COMMENT ON FUNCTION sync._check_job(jsonb) IS
    'internal: raise an error for a schedule''s job that is malformed, key by key; used by sync_schedule()';
COMMENT ON FUNCTION sync._run_job(text, jsonb, timestamptz, timestamptz) IS
    'internal: run one schedule''s job for its due firings (sync_backfill() runs); returns the runs asked for; used by sync.run_due_schedules()';
COMMENT ON FUNCTION sync._delete_old(text, text, timestamptz, integer) IS
    'internal: delete a batch of rows older than a cutoff from one table, series by series through an index; used by sync.apply_retention()';
COMMENT ON FUNCTION sync._commit_bucket_bounds() IS
    'internal: upper bounds in seconds of the sync_batch_commit_seconds histogram buckets (then +Inf); used by sync_metrics()';
COMMENT ON FUNCTION sync._prom_label(text) IS
    'internal: a Prometheus label value with backslash, double quote and newline escaped; used by sync_metrics()';
COMMENT ON FUNCTION sync._prom_labels(text, text, text, bigint) IS
    'internal: the source, symbol, dataset and interval labels of one series; used by sync_metrics()';
COMMENT ON FUNCTION sync._health_of_jobs() IS
    'internal: the sync_health() rows of sync itself, each worker, source, the aggregator, scheduler, rollups and schedules; used by sync_health()';
COMMENT ON FUNCTION sync._stream_health() IS
    'internal: the sync_health() row of each streaming source (stream <source>); used by sync_health()';
COMMENT ON FUNCTION sync._pool_health() IS
    'internal: the sync_health() row of the pool workers (pool); used by sync_health()';
COMMENT ON FUNCTION sync._release_crashed() IS
    'internal: let subscriptions and runs stopped for crashing the server run again; called by sync_start()';
COMMENT ON FUNCTION sync._session_is_superuser() IS
    'internal: whether the session user is a superuser; the default of sync.sources.created_by_superuser';
COMMENT ON FUNCTION sync._phase_names() IS
    'internal: every phase sync_status() shows, in the order a job passes them; used by sync_metrics() (sync_series_phase)';

-- Sequences -----------------------------------------------------------------

COMMENT ON SEQUENCE sync.sources_id_seq IS 'ids of sync.sources';
COMMENT ON SEQUENCE sync.subscriptions_id_seq IS 'ids of sync.subscriptions';
COMMENT ON SEQUENCE sync.rejects_id_seq IS 'ids of sync.rejects';
COMMENT ON SEQUENCE sync.job_runs_id_seq IS 'ids of sync.job_runs';
COMMENT ON SEQUENCE sync.rollup_invalidations_id_seq IS 'ids of sync.rollup_invalidations';

-- Catalog tables ----------------------------------------------------------------

COMMENT ON TABLE sync.sources IS
    'market-data providers, one row per source; written by sync_add_source() and sync_drop_source(); credentials live apart in sync.source_secrets. Readable by sync_reader';
COMMENT ON COLUMN sync.sources.id IS 'source id, referenced by sync.subscriptions.source_id';
COMMENT ON COLUMN sync.sources.name IS 'the name the API and the data tables use for the source (column source)';
COMMENT ON COLUMN sync.sources.provider IS 'binance, alpaca, polygon, coinbase or csv: the format sync speaks to it';
COMMENT ON COLUMN sync.sources.base_url IS 'REST base URL (http, https; file:// for csv); NULL: the provider''s public default';
COMMENT ON COLUMN sync.sources.stream_url IS 'WebSocket URL (ws, wss) of realtime subscriptions; NULL: the provider''s default';
COMMENT ON COLUMN sync.sources.options IS 'per-source settings: page_size, requests_per_minute (of the whole source), timeout_ms, poll_interval_ms, feed (see docs/reference.md)';
COMMENT ON COLUMN sync.sources.created_at IS 'when the source was added';
COMMENT ON COLUMN sync.sources.created_by_superuser IS
    'a superuser created the source: its connections may reach loopback, private and link-local addresses; NULL (made before 0.5.0) counts as false';

COMMENT ON TABLE sync.source_secrets IS
    'credentials of the sources (never shown by sync); no grant to anyone: the extension owner only';
COMMENT ON COLUMN sync.source_secrets.source_id IS 'the source (sync.sources.id) these credentials belong to';
COMMENT ON COLUMN sync.source_secrets.credentials IS 'JSON object with key_id and/or secret, as given to sync_add_source()';

COMMENT ON TABLE sync.subscriptions IS
    'what is kept in sync, one row per (source, symbol, dataset, bar_interval), with its progress written by the workers in the same transaction as the data; written by sync_subscribe() and sync_unsubscribe(). Readable by sync_reader; live state in sync_status()';
COMMENT ON COLUMN sync.subscriptions.id IS 'subscription id';
COMMENT ON COLUMN sync.subscriptions.source_id IS 'the source (sync.sources.id)';
COMMENT ON COLUMN sync.subscriptions.symbol IS 'the provider''s symbol, e.g. BTCUSDT or AAPL';
COMMENT ON COLUMN sync.subscriptions.dataset IS 'bars (into sync.bars) or trades (into sync.trades)';
COMMENT ON COLUMN sync.subscriptions.bar_interval IS 'width of the bars; 0 for trades';
COMMENT ON COLUMN sync.subscriptions.history_from IS 'where the backfill starts; NULL: no backfill, only new data';
COMMENT ON COLUMN sync.subscriptions.realtime IS 'follow the provider''s stream once caught up (false: poll REST every poll_interval_ms)';
COMMENT ON COLUMN sync.subscriptions.created_at IS 'when the subscription was made';
COMMENT ON COLUMN sync.subscriptions.synced_through IS 'checkpoint: everything before this time is stored (or confirmed empty); NULL before the first page';
COMMENT ON COLUMN sync.subscriptions.rows_stored IS 'rows stored by this subscription since it was made';
COMMENT ON COLUMN sync.subscriptions.rows_rejected IS 'records refused by validation (see sync.rejects)';
COMMENT ON COLUMN sync.subscriptions.state IS 'active, or error: stopped for good (bad symbol, refused credentials, crashing the server) until the cause is fixed or sync_start()';
COMMENT ON COLUMN sync.subscriptions.last_error IS 'the last error that stopped or delayed the job (see docs/troubleshooting.md)';
COMMENT ON COLUMN sync.subscriptions.last_error_at IS 'when last_error happened';

-- Data tables -----------------------------------------------------------------

COMMENT ON TABLE sync.bars IS
    'OHLCV bars exactly as the provider sent them (numeric, no rounding); ts is the bar''s open time; key (source, symbol, bar_interval, ts). Readable by sync_reader; rollups in sync.bars_5m .. bars_1d';
COMMENT ON COLUMN sync.bars.source IS 'the source''s name (sync.sources.name)';
COMMENT ON COLUMN sync.bars.symbol IS 'the provider''s symbol';
COMMENT ON COLUMN sync.bars.bar_interval IS 'width of the bar, e.g. 1 minute';
COMMENT ON COLUMN sync.bars.ts IS 'open time of the bar';
COMMENT ON COLUMN sync.bars.open IS 'first price in the bar, in the quote currency';
COMMENT ON COLUMN sync.bars.high IS 'highest price in the bar';
COMMENT ON COLUMN sync.bars.low IS 'lowest price in the bar';
COMMENT ON COLUMN sync.bars.close IS 'last price in the bar';
COMMENT ON COLUMN sync.bars.volume IS 'quantity traded in the bar, in the base asset (shares, coins)';
COMMENT ON COLUMN sync.bars.trades IS 'number of trades in the bar; NULL when the provider does not say';
COMMENT ON COLUMN sync.bars.vwap IS 'volume-weighted average price; NULL when the provider does not say';

COMMENT ON TABLE sync.trades IS
    'trades (prints) as the provider sent them; key (source, symbol, trade_id). Readable by sync_reader';
COMMENT ON COLUMN sync.trades.source IS 'the source''s name (sync.sources.name)';
COMMENT ON COLUMN sync.trades.symbol IS 'the provider''s symbol';
COMMENT ON COLUMN sync.trades.ts IS 'time of the trade, to the microsecond';
COMMENT ON COLUMN sync.trades.trade_id IS 'the provider''s trade id (Alpaca, Polygon: exchange:id:ms), unique per source and symbol';
COMMENT ON COLUMN sync.trades.price IS 'price, in the quote currency';
COMMENT ON COLUMN sync.trades.size IS 'quantity traded, in the base asset';
COMMENT ON COLUMN sync.trades.side IS 'buy or sell: the aggressor''s side; NULL when the provider does not say';

COMMENT ON TABLE sync.rejects IS
    'every record or answer refused by validation, with the reason and the raw payload; provider bytes, so read them as untrusted. Readable by sync_reader; kept as sync_set_retention(''rejects'', ...) says';
COMMENT ON COLUMN sync.rejects.id IS 'reject id, in the order they were stored';
COMMENT ON COLUMN sync.rejects.rejected_at IS 'when the record was refused';
COMMENT ON COLUMN sync.rejects.source IS 'the source''s name';
COMMENT ON COLUMN sync.rejects.symbol IS 'the symbol of the job that received it (NULL when not known)';
COMMENT ON COLUMN sync.rejects.dataset IS 'bars or trades (NULL when not known)';
COMMENT ON COLUMN sync.rejects.reason IS 'why it was refused, e.g. high below low, timestamp not aligned to the bar interval, malformed JSON';
COMMENT ON COLUMN sync.rejects.payload IS 'the refused record or answer as received (may be cut short)';

COMMENT ON TABLE sync.job_runs IS
    'history of runs: backfills (requested by sync_backfill() or a schedule, and those of subscriptions), scheduled firings and retention batches; finished rows go after sync.job_history_days. Readable by sync_reader';
COMMENT ON COLUMN sync.job_runs.id IS 'run id, returned by sync_backfill()';
COMMENT ON COLUMN sync.job_runs.kind IS 'backfill (a subscription''s catch-up or a requested run), scheduled (a schedule''s firing) or retention (a retention batch); follow is allowed but not written by this version';
COMMENT ON COLUMN sync.job_runs.subscription_id IS 'the subscription it ran for (NULL: none, or dropped since)';
COMMENT ON COLUMN sync.job_runs.source IS 'the source''s name (empty for retention)';
COMMENT ON COLUMN sync.job_runs.symbol IS 'the symbol (NULL for firings and retention)';
COMMENT ON COLUMN sync.job_runs.dataset IS 'bars or trades; for retention the dataset purged';
COMMENT ON COLUMN sync.job_runs.bar_interval IS 'width of the bars asked for';
COMMENT ON COLUMN sync.job_runs.range_from IS 'start of the range asked for (a firing: its first due time)';
COMMENT ON COLUMN sync.job_runs.range_to IS 'end of the range asked for, exclusive (a firing: its last due time; retention: the cutoff)';
COMMENT ON COLUMN sync.job_runs.requested IS 'a one-off run asked for by sync_backfill() (or a schedule), not a subscription''s own';
COMMENT ON COLUMN sync.job_runs.checkpoint IS 'how far a requested run got: it goes on from here after a restart';
COMMENT ON COLUMN sync.job_runs.started_at IS 'when the run was asked for or started';
COMMENT ON COLUMN sync.job_runs.finished_at IS 'when it ended; NULL while pending or running';
COMMENT ON COLUMN sync.job_runs.state IS 'pending, running, succeeded, failed, or interrupted (its worker stopped before it ended)';
COMMENT ON COLUMN sync.job_runs.rows IS 'rows stored (retention: deleted; a firing: runs asked for)';
COMMENT ON COLUMN sync.job_runs.rows_rejected IS 'records refused by validation';
COMMENT ON COLUMN sync.job_runs.error IS 'why it failed';
COMMENT ON COLUMN sync.job_runs.schedule IS 'the schedule (sync.schedules.name) that asked for it, if one did';

COMMENT ON TABLE sync.checked_gaps IS
    'stretches without bars that the provider was asked for and confirmed empty (a quiet market), so sync.gaps does not list them; written by the workers. Readable by sync_reader';
COMMENT ON COLUMN sync.checked_gaps.source IS 'the source''s name';
COMMENT ON COLUMN sync.checked_gaps.symbol IS 'the symbol';
COMMENT ON COLUMN sync.checked_gaps.bar_interval IS 'width of the bars asked for';
COMMENT ON COLUMN sync.checked_gaps.gap_from IS 'start of the empty stretch';
COMMENT ON COLUMN sync.checked_gaps.gap_to IS 'end of the empty stretch, exclusive';
COMMENT ON COLUMN sync.checked_gaps.checked_at IS 'when the provider last confirmed it empty';

COMMENT ON VIEW sync.gaps IS
    'missing bars inside the synced range of each bars subscription that the provider has not confirmed empty; workers and gap_repair schedules ask for them again. Readable by sync_reader';
COMMENT ON COLUMN sync.gaps.source IS 'the source''s name';
COMMENT ON COLUMN sync.gaps.symbol IS 'the symbol';
COMMENT ON COLUMN sync.gaps.bar_interval IS 'width of the bars';
COMMENT ON COLUMN sync.gaps.gap_from IS 'open time of the first missing bar';
COMMENT ON COLUMN sync.gaps.gap_to IS 'end of the hole, exclusive: the open time of the next stored bar or the checkpoint';
COMMENT ON COLUMN sync.gaps.missing_bars IS 'bars missing in [gap_from, gap_to)';

-- Rollups -------------------------------------------------------------------

COMMENT ON TABLE sync.rollups IS
    'rollup levels behind the sync.bars_<name> views, each built from the one before (the first from 1-minute input). Readable by sync_reader; see docs/rollups.md';
COMMENT ON COLUMN sync.rollups.name IS 'level name: 5m, 15m, 1h, 1d (view sync.bars_<name>, table sync.rollup_<name>)';
COMMENT ON COLUMN sync.rollups.bucket IS 'width of the level''s buckets';
COMMENT ON COLUMN sync.rollups.built_from IS 'the level it is computed from; NULL: 1-minute bars and trades';
COMMENT ON COLUMN sync.rollups.refreshed_at IS 'last refresh that changed the level';

COMMENT ON TABLE sync.rollup_invalidations IS
    'time ranges of 1-minute input (bars, trades) changed since the rollups were last refreshed, logged by triggers; drained by sync.refresh_rollups(). Readable by sync_reader';
COMMENT ON COLUMN sync.rollup_invalidations.id IS 'order of the changes';
COMMENT ON COLUMN sync.rollup_invalidations.source IS 'the source''s name';
COMMENT ON COLUMN sync.rollup_invalidations.symbol IS 'the symbol';
COMMENT ON COLUMN sync.rollup_invalidations.lo IS 'earliest time a statement touched';
COMMENT ON COLUMN sync.rollup_invalidations.hi IS 'latest time it touched';
COMMENT ON COLUMN sync.rollup_invalidations.logged_at IS 'when the change was logged (sync_rollup_staleness_seconds counts from the oldest)';

-- Each level: a view people read and the table behind it.
DO $levels$
DECLARE
    lvl record;
    c   record;
BEGIN
    FOR lvl IN SELECT name, bucket,
                      CASE WHEN bucket < interval '1 hour' THEN extract(epoch FROM bucket)::bigint / 60 || '-minute'
                           WHEN bucket < interval '1 day' THEN extract(epoch FROM bucket)::bigint / 3600 || '-hour'
                           ELSE extract(epoch FROM bucket)::bigint / 86400 || '-day' END AS width
                 FROM sync.rollups ORDER BY bucket LOOP
        EXECUTE format('COMMENT ON VIEW sync.%I IS %L', 'bars_' || lvl.name,
            format('%s OHLCV bars rolled up from the 1-minute bars (or trades) of every source and symbol, '
                   'always current: materialized buckets plus those changed since, computed on the fly; '
                   'ts is the bucket''s start, buckets are aligned to midnight UTC. Readable by sync_reader; '
                   'see docs/rollups.md', lvl.width));
        EXECUTE format('COMMENT ON TABLE sync.%I IS %L', 'rollup_' || lvl.name,
            format('materialized %s buckets behind sync.bars_%s, refreshed by the aggregator worker; '
                   'read the view, not this table (it lags the data)', lvl.width, lvl.name));
        FOR c IN SELECT * FROM (VALUES
                ('source', 'the source''s name'),
                ('symbol', 'the symbol'),
                ('ts', 'start of the bucket'),
                ('open', 'first price in the bucket'),
                ('high', 'highest price in the bucket'),
                ('low', 'lowest price in the bucket'),
                ('close', 'last price in the bucket'),
                ('volume', 'quantity traded in the bucket, in the base asset'),
                ('trades', 'number of trades in the bucket; NULL when a bar in it did not say'),
                ('vwap', 'volume-weighted average price; NULL when a bar with volume in it had none'),
                ('notional', 'sum of vwap * volume of the bucket''s bars: what the next level adds up')) v (col, what)
        LOOP
            IF c.col <> 'notional' THEN
                EXECUTE format('COMMENT ON COLUMN sync.%I.%I IS %L', 'bars_' || lvl.name, c.col, c.what);
            END IF;
            EXECUTE format('COMMENT ON COLUMN sync.%I.%I IS %L', 'rollup_' || lvl.name, c.col, c.what);
        END LOOP;
    END LOOP;
END
$levels$;

-- Sessions ------------------------------------------------------------------

COMMENT ON TABLE sync.sessions IS
    'exchange regular sessions known to sync_resample(session => ...): XNYS and XNAS, and any you add. Readable by sync_reader';
COMMENT ON COLUMN sync.sessions.name IS 'ISO 10383 market identifier code, e.g. XNYS';
COMMENT ON COLUMN sync.sessions.timezone IS 'time zone of opens and closes, e.g. America/New_York';
COMMENT ON COLUMN sync.sessions.opens IS 'local time of the regular open';
COMMENT ON COLUMN sync.sessions.closes IS 'local time of the regular close';
COMMENT ON COLUMN sync.sessions.weekdays IS 'ISO days of the week it trades (1 Monday .. 7 Sunday)';
COMMENT ON COLUMN sync.sessions.description IS 'what the session is';

COMMENT ON TABLE sync.session_exceptions IS
    'days that differ from a session''s regular hours: early closes, late opens, holidays (opens and closes NULL). Readable by sync_reader';
COMMENT ON COLUMN sync.session_exceptions.session IS 'the session (sync.sessions.name)';
COMMENT ON COLUMN sync.session_exceptions.day IS 'the local date';
COMMENT ON COLUMN sync.session_exceptions.opens IS 'local open time that day; NULL: closed';
COMMENT ON COLUMN sync.session_exceptions.closes IS 'local close time that day; NULL: closed';

-- Operations ----------------------------------------------------------------

COMMENT ON TABLE sync.schedules IS
    'recurring jobs run by the scheduler worker, cron in UTC; written by sync_schedule() and sync_unschedule(). Readable by sync_reader';
COMMENT ON COLUMN sync.schedules.name IS 'schedule name, in sync.job_runs.schedule of what it runs';
COMMENT ON COLUMN sync.schedules.cron IS 'five-field cron expression or @hourly, @daily ..., evaluated in UTC';
COMMENT ON COLUMN sync.schedules.job IS 'what it runs: {"kind": "backfill", ...} or {"kind": "gap_repair", ...} (see docs/reference.md#cron-and-jobs)';
COMMENT ON COLUMN sync.schedules.enabled IS 'false: the scheduler passes it over';
COMMENT ON COLUMN sync.schedules.next_run IS 'when the scheduler runs it next';
COMMENT ON COLUMN sync.schedules.last_run IS 'when it last ran';
COMMENT ON COLUMN sync.schedules.last_state IS 'succeeded or failed: how the last run went (the error is in sync.job_runs)';
COMMENT ON COLUMN sync.schedules.created_at IS 'when the schedule was made';

COMMENT ON TABLE sync.retention IS
    'how long each dataset is kept, written by sync_set_retention(); the scheduler deletes older rows in batches. Readable by sync_reader';
COMMENT ON COLUMN sync.retention.dataset IS 'bars, trades, rejects, bars_5m, bars_15m, bars_1h or bars_1d';
COMMENT ON COLUMN sync.retention.keep IS 'age past which rows are deleted (by their ts, rejects by rejected_at)';
COMMENT ON COLUMN sync.retention.updated_at IS 'when the policy was last set';

COMMENT ON VIEW sync.subscription_metrics IS
    'per-subscription counters and gauges for exporters and dashboards (the source of sync_metrics() and docs/postgres_exporter/queries.yaml); counters from shared memory restart at 0 after sync_stop() or a server restart. Readable by sync_reader';
COMMENT ON COLUMN sync.subscription_metrics.source IS 'the source''s name';
COMMENT ON COLUMN sync.subscription_metrics.symbol IS 'the symbol';
COMMENT ON COLUMN sync.subscription_metrics.dataset IS 'bars or trades';
COMMENT ON COLUMN sync.subscription_metrics.bar_interval_seconds IS 'width of the bars in seconds; 0 for trades';
COMMENT ON COLUMN sync.subscription_metrics.phase IS 'as in sync_status(): queued, pending, backfill, realtime, idle, retrying, error or stopped';
COMMENT ON COLUMN sync.subscription_metrics.up IS '1 when a worker process carries the subscription, else 0';
COMMENT ON COLUMN sync.subscription_metrics.rows_stored IS 'rows stored (from sync.subscriptions: never resets)';
COMMENT ON COLUMN sync.subscription_metrics.rows_rejected IS 'records refused by validation (from sync.subscriptions)';
COMMENT ON COLUMN sync.subscription_metrics.data_age_seconds IS 'seconds from synced_through to now, never below zero; NULL before anything is stored (sync_lag_seconds)';
COMMENT ON COLUMN sync.subscription_metrics.consecutive_failures IS 'transient failures since the last stored page';
COMMENT ON COLUMN sync.subscription_metrics.rate_limited IS '1 while a provider''s rate limit holds the job back, else 0';
COMMENT ON COLUMN sync.subscription_metrics.http_2xx IS 'provider answers with status 2xx';
COMMENT ON COLUMN sync.subscription_metrics.http_3xx IS 'provider answers with status 3xx (redirects, not followed)';
COMMENT ON COLUMN sync.subscription_metrics.http_4xx IS 'provider answers with status 4xx other than rate limits';
COMMENT ON COLUMN sync.subscription_metrics.http_rate_limited IS 'provider answers that said slow down: 429, 418, 503';
COMMENT ON COLUMN sync.subscription_metrics.http_5xx IS 'provider answers with status 5xx other than 503';
COMMENT ON COLUMN sync.subscription_metrics.http_failed IS 'requests without an answer (network error, timeout, answer too large)';
COMMENT ON COLUMN sync.subscription_metrics.commits IS 'batches (pages) committed';
COMMENT ON COLUMN sync.subscription_metrics.commit_seconds IS 'seconds spent writing and committing those batches';
COMMENT ON COLUMN sync.subscription_metrics.reconnects IS 'streams carrying it lost, or renewed on purpose, and opened again';
COMMENT ON COLUMN sync.subscription_metrics.last_success IS 'when a page was last stored';
COMMENT ON COLUMN sync.subscription_metrics.commit_buckets IS 'commits per latency bucket, not cumulative; bounds in sync._commit_bucket_bounds(), the last +Inf';
