-- sync_add_source / sync_drop_source: every argument is checked.
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT sync_add_source('binance1', 'binance') AS id1;
SELECT name, provider, base_url, stream_url, options FROM sync.sources ORDER BY id;
SELECT sync_add_source('b2', 'binance', 'http://127.0.0.1:9999/', 'ws://127.0.0.1:9998',
                       options => '{"page_size": 500, "requests_per_minute": 600}');
SELECT name, base_url, stream_url, options FROM sync.sources WHERE name = 'b2';
SELECT sync_add_source('alp', 'alpaca', credentials => '{"key_id": "AK", "secret": "SK"}',
                       options => '{"feed": "iex"}');
SELECT sync_add_source('poly', 'polygon', credentials => '{"secret": "PK"}');
SELECT sync_add_source('cb', 'coinbase', 'https://api.exchange.coinbase.com');
SELECT sync_add_source('files', 'csv', 'file:///var/lib/sync');
-- errors
SELECT sync_add_source('binance1', 'binance');
SELECT sync_add_source('bad name!', 'binance');
SELECT sync_add_source(NULL, 'binance');
SELECT sync_add_source('x', 'kraken');
SELECT sync_add_source('x', NULL);
SELECT sync_add_source('x', 'binance', 'api.binance.com');
SELECT sync_add_source('x', 'binance', 'ftp://api.binance.com');
SELECT sync_add_source('x', 'binance', 'https://');
SELECT sync_add_source('x', 'binance', 'https://bad host');
SELECT sync_add_source('x', 'binance', stream_url => 'https://stream.binance.com');
SELECT sync_add_source('x', 'binance', options => '[1]');
SELECT sync_add_source('x', 'binance', options => '{"page_size": 5000}');
SELECT sync_add_source('x', 'binance', options => '{"page_size": "10"}');
SELECT sync_add_source('x', 'binance', options => '{"page_size": 1.5}');
SELECT sync_add_source('x', 'binance', options => '{"requests_per_minute": 0}');
SELECT sync_add_source('x', 'binance', options => '{"color": "red"}');
SELECT sync_add_source('x', 'alpaca', credentials => '{"key_id": "AK", "secret": "SK"}', options => '{"feed": "nasdaq"}');
SELECT sync_add_source('x', 'binance', options => '{"feed": "bookTicker"}');
SELECT sync_add_source('x', 'coinbase', options => '{"feed": "trade"}');
SELECT sync_add_source('x', 'binance', credentials => '"key"');
SELECT sync_add_source('x', 'binance', credentials => '{"token": "t"}');
SELECT sync_add_source('x', 'binance', credentials => '{"key_id": 5}');
SELECT sync_add_source('x', 'alpaca');
SELECT sync_add_source('x', 'alpaca', credentials => '{"key_id": "AK"}');
SELECT sync_add_source('x', 'polygon');
SELECT sync_add_source('x', 'csv');
SELECT sync_add_source('x', 'csv', 'file://relative/path');
SELECT sync_add_source('x', 'csv', 'file:///data', 'ws://127.0.0.1:1');
SELECT sync_drop_source('nope');
SELECT sync_drop_source(NULL);
SELECT sync_drop_source('cb');
SELECT count(*) FROM sync.sources WHERE name = 'cb';
-- secrets are kept apart and never in sync.sources
SELECT s.name, sec.credentials ? 'secret' AS has_secret
  FROM sync.sources s JOIN sync.source_secrets sec ON sec.source_id = s.id ORDER BY 1;
SELECT count(*) FROM sync.sources WHERE options::text LIKE '%SK%';
