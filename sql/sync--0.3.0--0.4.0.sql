-- sync 0.3.0 -> 0.4.0: streams.
--
-- Every realtime subscription of a source now shares the source's one
-- stream connection (the "sync streamer" worker; nothing to migrate: it
-- lives in shared memory).  What users see of it here:
--  - sync_status() gains a last column, reconnects, the times a stream
--    carrying the subscription was lost or renewed since sync started.  The
--    14 columns before it are unchanged, so queries that name them, or read
--    them by position, go on working; lag is measured against the clock,
--    not the transaction's start, and never shown below zero;
--  - sync_health() gains a row per streaming source: "stream <source>";
--  - a Binance source takes the option "feed": "aggTrade" (the default,
--    aggregate trades) or "trade" (every raw trade: the @trade stream, and
--    /api/v3/trades and historicalTrades over REST).

\echo Use "ALTER EXTENSION sync UPDATE TO '0.4.0'" to load this file. \quit

DROP FUNCTION @extschema@.sync_status();

CREATE FUNCTION @extschema@.sync_status()
RETURNS TABLE(source text, symbol text, dataset text, bar_interval interval,
              phase text, worker_pid integer, synced_through timestamptz,
              backfill_progress real, lag interval,
              rows_stored bigint, rows_rejected bigint,
              last_error text, last_error_at timestamptz, retry_at timestamptz,
              reconnects bigint)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT src.name, s.symbol, s.dataset,
           CASE WHEN s.dataset = 'bars' THEN s.bar_interval END,
           CASE WHEN s.state = 'error' THEN 'error'
                WHEN w.phase IS NOT NULL THEN w.phase
                WHEN sync._supervisor_pid() IS NOT NULL THEN 'pending'
                ELSE 'stopped' END,
           w.worker_pid,
           s.synced_through,
           CASE WHEN s.history_from IS NULL THEN NULL
                WHEN s.synced_through IS NULL THEN 0::real
                ELSE least(1, greatest(0,
                       extract(epoch FROM s.synced_through - s.history_from)
                       / nullif(extract(epoch FROM now() - s.history_from), 0)))::real END,
           -- the clock now, not the transaction's start (a newer event may be stored since),
           -- and never below zero (a provider's clock may run ahead of ours)
           CASE WHEN w.phase = 'realtime' THEN greatest(clock_timestamp() - w.newest_event, interval '0') END,
           s.rows_stored, s.rows_rejected,
           coalesce(w.last_error, s.last_error),
           coalesce(w.last_error_at, s.last_error_at),
           w.retry_at,
           coalesce(m.reconnects, 0)
      FROM sync.subscriptions s
      JOIN sync.sources src ON src.id = s.source_id
      LEFT JOIN sync._worker_status() w ON w.subscription_id = s.id
      LEFT JOIN sync._worker_metrics() m ON m.job_id = s.id
     ORDER BY src.name, s.symbol, s.dataset, s.bar_interval
$$;
COMMENT ON FUNCTION @extschema@.sync_status() IS
    'one row per subscription: phase, progress, lag, rows, last error, next retry, stream reconnects';

REVOKE ALL ON FUNCTION @extschema@.sync_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_status() TO sync_reader;

-- sync_health(): the rows of 0.3.0, then one per streaming source.  The
-- 0.3.0 function stays as it was, under another name, rather than being
-- written out again here.
ALTER FUNCTION @extschema@.sync_health() RENAME TO _health_of_jobs;
ALTER FUNCTION @extschema@._health_of_jobs() SET SCHEMA sync;

-- A source with realtime subscriptions has a streamer, the job
-- PG_INT32_MIN + 1 + its id (bgworkers/worker_common.h).
CREATE FUNCTION sync._stream_health() RETURNS TABLE (component text, status text, detail text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'stream ' || src.name,
           CASE WHEN sync._supervisor_pid() IS NULL OR w.worker_pid IS NULL THEN 'down'
                WHEN w.phase = 'retrying' THEN 'degraded' ELSE 'ok' END,
           CASE WHEN sync._supervisor_pid() IS NULL THEN 'sync is not running'
                WHEN w.worker_pid IS NULL THEN 'no streamer running'
                WHEN w.phase = 'retrying' THEN 'reconnecting: ' || coalesce(w.last_error, '?')
                WHEN w.phase = 'realtime' THEN format('streaming (pid %s) for %s realtime subscription(s)',
                                                      w.worker_pid, n.subs)
                ELSE format('waiting for a caught-up subscription (pid %s)', w.worker_pid) END
      FROM sync.sources src
      CROSS JOIN LATERAL (SELECT count(*) AS subs FROM sync.subscriptions s
                           WHERE s.source_id = src.id AND s.state = 'active' AND s.realtime) n
      LEFT JOIN sync._worker_status() w ON w.subscription_id = -2147483647 + src.id
     WHERE n.subs > 0 AND src.provider <> 'csv'
     ORDER BY src.name
$$;

CREATE FUNCTION @extschema@.sync_health() RETURNS TABLE (component text, status text, detail text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM sync._health_of_jobs()
    UNION ALL
    SELECT * FROM sync._stream_health()
$$;
COMMENT ON FUNCTION @extschema@.sync_health() IS
    'ok / degraded / down, with a reason, for sync, each worker, source, rollup, schedule and stream';

REVOKE ALL ON FUNCTION @extschema@.sync_health(), sync._stream_health() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.sync_health(), sync._stream_health() TO sync_reader;

-- Validate a source's options object key by key (0.4.0: Binance's feed).
CREATE OR REPLACE FUNCTION sync._check_options(provider text, options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k text;
    v jsonb;
    n numeric;
BEGIN
    IF options IS NULL THEN
        RETURN;
    END IF;
    IF jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got a JSON %s.', jsonb_typeof(options)),
                  HINT = 'Example: ''{"page_size": 1000, "requests_per_minute": 1200}''.';
    END IF;
    FOR k, v IN SELECT key, value FROM jsonb_each(options) LOOP
        IF k IN ('page_size', 'requests_per_minute', 'timeout_ms', 'poll_interval_ms') THEN
            IF jsonb_typeof(v) <> 'number' OR (v #>> '{}')::numeric <> trunc((v #>> '{}')::numeric) THEN
                RAISE EXCEPTION 'option "%" must be a whole number', k
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = format('Got %s.', v::text);
            END IF;
            n := (v #>> '{}')::numeric;
            IF n < 1 OR (k = 'page_size' AND n > sync._provider_max_page(provider)) OR n > 2147483647 THEN
                RAISE EXCEPTION 'option "%" is out of range: %', k, v::text
                    USING ERRCODE = 'invalid_parameter_value',
                          DETAIL = CASE WHEN k = 'page_size'
                                        THEN format('Provider "%s" serves at most %s records per request.',
                                                    provider, sync._provider_max_page(provider))
                                        ELSE 'The value must be at least 1.' END;
            END IF;
        ELSIF k = 'feed' AND provider = 'alpaca' THEN
            IF v NOT IN ('"iex"', '"sip"', '"otc"', '"delayed_sip"') THEN
                RAISE EXCEPTION 'option "feed" must be one of iex, sip, otc, delayed_sip'
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v::text);
            END IF;
        ELSIF k = 'feed' AND provider = 'binance' THEN
            IF v NOT IN ('"aggTrade"', '"trade"') THEN
                RAISE EXCEPTION 'option "feed" must be aggTrade or trade'
                    USING ERRCODE = 'invalid_parameter_value', DETAIL = format('Got %s.', v::text),
                          HINT = 'aggTrade (the default): aggregate trades; trade: every raw trade.';
            END IF;
        ELSE
            RAISE EXCEPTION 'unknown option "%" for provider "%"', k, provider
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Known options: page_size, requests_per_minute, timeout_ms, poll_interval_ms'
                             || CASE WHEN provider IN ('alpaca', 'binance') THEN ', feed' ELSE '' END || '.';
        END IF;
    END LOOP;
END
$$;
