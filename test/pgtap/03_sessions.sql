-- pgTAP: sync_resample() with exchange sessions.  Real AIG minute bars
-- (QuantConnect Lean, test/data/README.md) rolled up over the XNYS regular
-- session, checked exactly against an independent computation and
-- compared with the real AIG daily bars; DST, early closes, holidays.
BEGIN;
SELECT plan(13);

DO 'BEGIN PERFORM sync_add_source(''lean'', ''csv'', ''http://127.0.0.1:9''); END';

-- Lean equity minute bars: ms since midnight New York, prices in 1/10000 $
CREATE TEMP TABLE lean_minute (day date, ms bigint, o bigint, h bigint, l bigint, c bigint, v bigint);
ALTER TABLE lean_minute ALTER day SET DEFAULT '2013-10-07';
\copy lean_minute (ms, o, h, l, c, v) FROM 'test/data/aig_minute_trade_20131007.csv' WITH (FORMAT csv)
ALTER TABLE lean_minute ALTER day SET DEFAULT '2013-10-08';
\copy lean_minute (ms, o, h, l, c, v) FROM 'test/data/aig_minute_trade_20131008.csv' WITH (FORMAT csv)
ALTER TABLE lean_minute ALTER day SET DEFAULT '2013-10-09';
\copy lean_minute (ms, o, h, l, c, v) FROM 'test/data/aig_minute_trade_20131009.csv' WITH (FORMAT csv)
ALTER TABLE lean_minute ALTER day SET DEFAULT '2013-10-10';
\copy lean_minute (ms, o, h, l, c, v) FROM 'test/data/aig_minute_trade_20131010.csv' WITH (FORMAT csv)
ALTER TABLE lean_minute ALTER day SET DEFAULT '2013-10-11';
\copy lean_minute (ms, o, h, l, c, v) FROM 'test/data/aig_minute_trade_20131011.csv' WITH (FORMAT csv)

INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume)
SELECT 'lean', 'AIG', '1 minute', (day + ms * interval '1 millisecond') AT TIME ZONE 'America/New_York',
       o * 0.0001, h * 0.0001, l * 0.0001, c * 0.0001, v
  FROM lean_minute;
SELECT is((SELECT count(*) FROM sync.bars WHERE symbol = 'AIG'), 2142::bigint, 'all AIG minute bars loaded');

-- Independent computation: New York local time, regular hours by hand
CREATE TEMP VIEW aig_session_minutes AS
SELECT (b.ts AT TIME ZONE 'America/New_York')::date AS day, b.*
  FROM sync.bars b
 WHERE b.symbol = 'AIG'
   AND (b.ts AT TIME ZONE 'America/New_York')::time >= '09:30'
   AND (b.ts AT TIME ZONE 'America/New_York')::time < '16:00';
CREATE TEMP VIEW aig_days AS
SELECT d.day, (d.day + time '09:30') AT TIME ZONE 'America/New_York' AS ts,
       (SELECT open FROM aig_session_minutes m WHERE m.day = d.day ORDER BY ts LIMIT 1) AS open,
       max(d.high) AS high, min(d.low) AS low,
       (SELECT close FROM aig_session_minutes m WHERE m.day = d.day ORDER BY ts DESC LIMIT 1) AS close,
       sum(d.volume) AS volume
  FROM aig_session_minutes d GROUP BY d.day;

SELECT results_eq(
    $$SELECT ts, open, high, low, close, volume FROM sync_resample('lean', 'AIG', '1 day',
                                          '2013-10-07', '2013-10-12', 'XNYS') ORDER BY ts$$,
    $$SELECT ts, open, high, low, close, volume FROM aig_days ORDER BY ts$$,
    'XNYS daily bars equal the independent session rollup of the minute bars');
SELECT results_eq(
    $$SELECT count(*)::int FROM sync_resample('lean', 'AIG', '1 day', '2013-10-07', '2013-10-12', 'XNYS')$$,
    ARRAY[5], 'five trading days');
SELECT is((SELECT ts FROM sync_resample('lean', 'AIG', '1 day', '2013-10-07', '2013-10-08', 'xnys')),
          '2013-10-07 13:30+00'::timestamptz, 'a session day starts at 09:30 New York (13:30 UTC in October)');

-- The real AIG daily bars: open, low and close agree every day
CREATE TEMP TABLE lean_daily (stamp text, o bigint, h bigint, l bigint, c bigint, v bigint);
\copy lean_daily FROM 'test/data/aig_daily_trade_2013-10.csv' WITH (FORMAT csv)
CREATE TEMP VIEW real_daily AS
SELECT to_date(left(stamp, 8), 'YYYYMMDD') AS day, o * 0.0001 AS open, h * 0.0001 AS high,
       l * 0.0001 AS low, c * 0.0001 AS close, v AS volume
  FROM lean_daily WHERE to_date(left(stamp, 8), 'YYYYMMDD') BETWEEN '2013-10-07' AND '2013-10-11';
SELECT results_eq(
    $$SELECT (ts AT TIME ZONE 'America/New_York')::date, open, low, close
        FROM sync_resample('lean', 'AIG', '1 day', '2013-10-07', '2013-10-12', 'XNYS') ORDER BY 1$$,
    $$SELECT day, open, low, close FROM real_daily ORDER BY day$$,
    'XNYS rollup of the minute bars gives the real daily open, low and close');
-- high and volume legitimately differ a little (prints no minute bar has): report them
SELECT diag(format('%s: high %s vs real %s, volume %s vs real %s (%s%%)', r.day, s.high, r.high, s.volume,
                   r.volume, round(100 * (s.volume - r.volume) / r.volume, 2)))
  FROM real_daily r
  JOIN sync_resample('lean', 'AIG', '1 day', '2013-10-07', '2013-10-12', 'XNYS') s
    ON (s.ts AT TIME ZONE 'America/New_York')::date = r.day
 ORDER BY r.day;
SELECT ok((SELECT bool_and(abs(s.high - r.high) <= 0.01 AND abs(s.volume - r.volume) <= 0.01 * r.volume)
             FROM real_daily r
             JOIN sync_resample('lean', 'AIG', '1 day', '2013-10-07', '2013-10-12', 'XNYS') s
               ON (s.ts AT TIME ZONE 'America/New_York')::date = r.day),
          'high within a cent and volume within 1% of the real daily bars');

-- Hour buckets inside the session start at the open: 09:30, 10:30, ... 15:30
SELECT results_eq(
    $$SELECT to_char(ts AT TIME ZONE 'America/New_York', 'HH24:MI') FROM sync_resample('lean', 'AIG', '1 hour',
          '2013-10-08', '2013-10-09', 'XNYS') ORDER BY ts$$,
    ARRAY['09:30', '10:30', '11:30', '12:30', '13:30', '14:30', '15:30'],
    'hour buckets of a session day start at the open; the last is the half hour to 16:00');
SELECT results_eq(
    $$SELECT sum(volume) FROM sync_resample('lean', 'AIG', '1 hour', '2013-10-08', '2013-10-09', 'XNYS')$$,
    $$SELECT volume FROM aig_days WHERE day = '2013-10-08'$$,
    'hour buckets add up to the session day');

-- Without a session: plain UTC buckets over [from_ts, to_ts)
SELECT results_eq(
    $$SELECT sum(volume) FROM sync_resample('lean', 'AIG', '1 day', '2013-10-07', '2013-10-12')$$,
    $$SELECT sum(volume) FROM sync.bars WHERE symbol = 'AIG'$$,
    'UTC day buckets hold every minute, pre- and post-market too');

-- DST: one minute bar for every UTC minute around the 2024 switch to EDT
INSERT INTO sync.bars (source, symbol, bar_interval, ts, open, high, low, close, volume)
SELECT 'lean', 'SYN', '1 minute', g, 1, 1, 1, 1, 1
  FROM generate_series('2024-03-08 00:00+00'::timestamptz, '2024-03-12 23:59+00', '1 minute') g;
SELECT results_eq(
    $$SELECT ts, volume FROM sync_resample('lean', 'SYN', '1 day', '2024-03-08', '2024-03-13', 'XNYS') ORDER BY ts$$,
    $$VALUES ('2024-03-08 14:30+00'::timestamptz, 390::numeric), ('2024-03-11 13:30+00', 390), ('2024-03-12 13:30+00', 390)$$,
    'sessions follow New York daylight saving time; weekends have no session');

-- Exceptions: an early close and a holiday
INSERT INTO sync.session_exceptions VALUES ('XNYS', '2024-03-11', '09:30', '13:00'), ('XNYS', '2024-03-12', NULL, NULL);
SELECT results_eq(
    $$SELECT ts, volume FROM sync_resample('lean', 'SYN', '1 day', '2024-03-08', '2024-03-13', 'XNYS') ORDER BY ts$$,
    $$VALUES ('2024-03-08 14:30+00'::timestamptz, 390::numeric), ('2024-03-11 13:30+00', 210)$$,
    'an early close shortens the day; a holiday has no bar');
SELECT results_eq(
    $$SELECT count(*)::int FROM sync_resample('lean', 'SYN', '1 day', '2024-03-08', '2024-03-13', 'XNAS')$$,
    ARRAY[3], 'exceptions belong to one session: XNAS still trades both days');

-- a range that starts inside a session day counts only minutes from from_ts
SELECT results_eq(
    $$SELECT ts, volume FROM sync_resample('lean', 'SYN', '1 day', '2024-03-08 20:00+00', '2024-03-08 20:30+00', 'XNYS')$$,
    $$VALUES ('2024-03-08 14:30+00'::timestamptz, 30::numeric)$$,
    'from_ts and to_ts cut the minutes, the bucket keeps the session open as its time');

SELECT * FROM finish();
ROLLBACK;
