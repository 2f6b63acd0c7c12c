-- bench/collation_demo.sql: what users would see if sync's key columns
-- (source, symbol, trade_id) were COLLATE "C" (issue 14).  Run it in a
-- database whose default collation is a real locale, e.g. en_US.UTF-8
-- (bench/collation.sh runs it so, with ON_ERROR_STOP off: some statements
-- are meant to fail).  Self-contained: schema demo, dropped at the end.
--   psql -X -e -v ON_ERROR_STOP=0 -d DB -f bench/collation_demo.sql
\pset footer off
SELECT current_setting('server_version') AS server, datcollate AS database_collation
  FROM pg_database WHERE datname = current_database();
DROP SCHEMA IF EXISTS demo CASCADE;
CREATE SCHEMA demo;
SET search_path = demo;

-- bars as 0.7.0 has them (default collation) and as 0.8.0 would (C)
CREATE TABLE bars_default (source text NOT NULL, symbol text NOT NULL, ts timestamptz NOT NULL,
                           close numeric, PRIMARY KEY (source, symbol, ts));
CREATE TABLE bars_c (source text COLLATE "C" NOT NULL, symbol text COLLATE "C" NOT NULL,
                     ts timestamptz NOT NULL, close numeric, PRIMARY KEY (source, symbol, ts));
INSERT INTO bars_default
SELECT 'x', s, timestamptz '2026-01-01 00:00+00', 1
  FROM unnest(ARRAY['BTCUSDT', 'btcusdt', 'BTC-USD', 'BTCUSD', 'BTC/USD', 'AAPL', 'aapl',
                    'BRK.B', 'BRK-B', 'BRKB', 'ZM', '9988.HK', '10', '9', 'Éclair', 'eth-usd']) s;
INSERT INTO bars_c SELECT * FROM bars_default;
-- a user's own table of the default collation, indexed
CREATE TABLE my_symbols (symbol text PRIMARY KEY, sector text);
INSERT INTO my_symbols VALUES ('AAPL', 'tech'), ('BTCUSDT', 'crypto'), ('BRK.B', 'finance');
INSERT INTO my_symbols SELECT 'S' || g, 'filler' FROM generate_series(1, 20000) g;
ANALYZE bars_default, bars_c, my_symbols;

\echo '== 1. ORDER BY symbol: the order changes (en_US ignores case and punctuation at first; C sorts bytes)'
SELECT d.n, d.symbol AS default_collation, c.symbol AS collate_c
  FROM (SELECT row_number() OVER (ORDER BY symbol) n, symbol FROM bars_default) d
  JOIN (SELECT row_number() OVER (ORDER BY symbol) n, symbol FROM bars_c) c USING (n)
 ORDER BY d.n;

\echo '== 2. range comparisons: symbol < ''b'' selects other rows'
SELECT (SELECT string_agg(symbol, ' ' ORDER BY symbol) FROM bars_default WHERE symbol < 'b') AS default_collation,
       (SELECT string_agg(symbol, ' ' ORDER BY symbol) FROM bars_c WHERE symbol < 'b') AS collate_c;
SELECT (SELECT min(symbol) FROM bars_default) AS min_default, (SELECT min(symbol) FROM bars_c) AS min_c,
       (SELECT max(symbol) FROM bars_default) AS max_default, (SELECT max(symbol) FROM bars_c) AS max_c;

\echo '== 3. equality, IN, joins with a default-collation column: same rows (C wins over the default, both are deterministic)'
SELECT count(*) AS eq_default FROM bars_default WHERE symbol = 'aapl';
SELECT count(*) AS eq_c FROM bars_c WHERE symbol = 'aapl';
SELECT count(*) AS in_c FROM bars_c WHERE symbol IN ('AAPL', 'BRK.B', 'nope');
SELECT b.symbol, m.sector FROM bars_c b JOIN my_symbols m ON m.symbol = b.symbol ORDER BY 1;
SELECT b.symbol, m.sector FROM bars_default b JOIN my_symbols m ON m.symbol = b.symbol ORDER BY 1;
SELECT pg_collation_for(b.symbol), pg_collation_for(m.symbol),
       pg_collation_for(CASE WHEN true THEN b.symbol ELSE m.symbol END) AS combined
  FROM bars_c b, my_symbols m LIMIT 1;

\echo '== 4. but the join clause is now C: the user''s default-collation index on my_symbols cannot serve it'
SET enable_hashjoin = off; SET enable_mergejoin = off; SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT m.sector FROM bars_default b JOIN my_symbols m ON m.symbol = b.symbol WHERE b.source = 'x';
EXPLAIN (COSTS OFF) SELECT m.sector FROM bars_c b JOIN my_symbols m ON m.symbol = b.symbol WHERE b.source = 'x';
RESET enable_hashjoin; RESET enable_mergejoin; RESET enable_seqscan;
\echo '   (and the other way round: a default-collation column compared with COLLATE "default" misses the C primary key)'
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM bars_c WHERE source = 'x' AND symbol = 'AAPL';
EXPLAIN (COSTS OFF) SELECT * FROM bars_c WHERE source = 'x' AND symbol = 'AAPL' COLLATE "default";
RESET enable_seqscan;

\echo '== 5. a user column with an explicit collation of its own: comparing it with a C column is an error'
CREATE COLLATION my_en (provider = libc, locale = 'en_US.UTF-8');
CREATE TABLE my_named (symbol text COLLATE my_en);
INSERT INTO my_named VALUES ('AAPL');
SELECT count(*) FROM bars_default b JOIN my_named m ON m.symbol = b.symbol;
SELECT count(*) FROM bars_c b JOIN my_named m ON m.symbol = b.symbol;
SELECT symbol FROM bars_c UNION SELECT symbol FROM my_named;
SELECT count(*) FROM bars_c b JOIN my_named m ON m.symbol = b.symbol COLLATE "C";

\echo '== 6. LIKE: same rows; under C a prefix LIKE can use the primary key (under en_US it needs text_pattern_ops)'
SELECT (SELECT string_agg(symbol, ' ' ORDER BY symbol) FROM bars_default WHERE symbol LIKE 'BTC%') AS like_default,
       (SELECT string_agg(symbol, ' ' ORDER BY symbol) FROM bars_c WHERE symbol LIKE 'BTC%') AS like_c,
       (SELECT string_agg(symbol, ' ' ORDER BY symbol) FROM bars_c WHERE symbol ILIKE 'btc%') AS ilike_c;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM bars_default WHERE source = 'x' AND symbol LIKE 'BTC%';
EXPLAIN (COSTS OFF) SELECT * FROM bars_c WHERE source = 'x' AND symbol LIKE 'BTC%';
RESET enable_seqscan;
\echo '   a user''s text_pattern_ops index works on either (it ignores collation)'
CREATE INDEX bars_c_pattern ON bars_c (symbol text_pattern_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM bars_c WHERE symbol LIKE 'BRK%';
RESET enable_seqscan;

\echo '== 7. trade ids: ORDER BY ts, trade_id breaks ties differently, so the open/close of a minute built from trades changes'
CREATE TABLE trades_default (trade_id text, ts timestamptz, price numeric);
INSERT INTO trades_default VALUES
  ('V:12:1767225600000', '2026-01-01 00:00:00+00', 101),   -- Alpaca: exchange:id:ms
  ('V:1:1767225600000',  '2026-01-01 00:00:00+00', 100),
  ('8f14e45f-ceea-467f-a0e6-ad4d1b9e8b9e', '2026-01-01 00:01:00+00', 200),
  ('8F14E45F-CEEA-467F-A0E6-AD4D1B9E8B9D', '2026-01-01 00:01:00+00', 201),
  ('9', '2026-01-01 00:02:00+00', 300), ('10', '2026-01-01 00:02:00+00', 301);
CREATE TABLE trades_c (trade_id text COLLATE "C", ts timestamptz, price numeric);
INSERT INTO trades_c SELECT * FROM trades_default;
SELECT d.minute, d.open AS open_default, c.open AS open_c, d.close AS close_default, c.close AS close_c
  FROM (SELECT date_trunc('minute', ts) AS minute, (array_agg(price ORDER BY ts, trade_id))[1] open,
               (array_agg(price ORDER BY ts DESC, trade_id DESC))[1] close
          FROM trades_default GROUP BY 1) d
  JOIN (SELECT date_trunc('minute', ts) AS minute, (array_agg(price ORDER BY ts, trade_id))[1] open,
               (array_agg(price ORDER BY ts DESC, trade_id DESC))[1] close
          FROM trades_c GROUP BY 1) c USING (minute)
 ORDER BY 1;

\echo '== 8. the upgrade itself: ALTER COLUMN ... TYPE text COLLATE "C" is refused while any view uses the column'
CREATE VIEW my_view AS SELECT source, symbol, close FROM bars_default;
ALTER TABLE bars_default ALTER COLUMN symbol TYPE text COLLATE "C";
DROP VIEW my_view;
\echo '   a user''s foreign key onto the key columns survives it (deterministic collations may differ)'
CREATE TABLE my_refs (source text, symbol text, ts timestamptz,
                      FOREIGN KEY (source, symbol, ts) REFERENCES bars_default);
INSERT INTO my_refs VALUES ('x', 'AAPL', '2026-01-01 00:00+00');
ALTER TABLE bars_default ALTER COLUMN source TYPE text COLLATE "C", ALTER COLUMN symbol TYPE text COLLATE "C";
INSERT INTO my_refs VALUES ('x', 'BRK.B', '2026-01-01 00:00+00');
INSERT INTO my_refs VALUES ('x', 'BRK B', '2026-01-01 00:00+00');
\echo '   and CREATE TABLE AS / LIKE copy the C collation into the user''s tables'
CREATE TABLE my_copy AS SELECT symbol FROM bars_c;
SELECT attname, collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
 WHERE attrelid = 'my_copy'::regclass AND attnum > 0;

RESET search_path;
DROP SCHEMA demo CASCADE;
