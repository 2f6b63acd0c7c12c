// unit-sources: client/http_params.c
// unit-libs:
/*-------------------------------------------------------------------------
 * test_http_params.c
 *	  Unit tests of what `pg_sync serve` makes of a request before the
 *	  database sees it (client/http_params.c): the query string decoded
 *	  and refused when malformed, each route's parameters with their
 *	  defaults and bounds, the interval's name, dashboard file names and
 *	  types, the listen address and whether it is loopback, a payload's
 *	  source and symbol, and the JSON and SSE text written back.  Prints TAP.
 *-------------------------------------------------------------------------
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../client/http_params.h"

static int	tests = 0;
static int	failed = 0;

static void
ok(int cond, const char *name)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
}

static HttpQuery q;

/* parse uri and run the bars checks: 0 when accepted, else the status */
static int
bars(const char *uri, HttpSeriesRequest *r, HttpError *err)
{
	if (!http_query_parse(uri, &q, err))
		return err->status;
	return http_bars_request(&q, 5000, 50000, r, err) ? 0 : err->status;
}

static void
refused(const char *uri, const char *parameter)
{
	HttpSeriesRequest r;
	HttpError	err;
	char		name[512];
	int			status = bars(uri, &r, &err);

	snprintf(name, sizeof(name), "400 naming \"%s\": %s (got %d \"%s\")", parameter, uri, status,
			 status ? err.parameter : "");
	ok(status == 400 && strcmp(err.parameter, parameter) == 0, name);
}

static void
listen_case(const char *text, int accepted, int loopback, const char *what)
{
	struct sockaddr_storage addr;
	socklen_t	len;
	bool		lo = false;
	char		err[256];
	int			got = http_parse_listen(text, &addr, &len, &lo, err, sizeof(err));

	ok(got == accepted && (!accepted || lo == loopback), what);
}

static char *
json_of(const char *s)
{
	static HttpBuf b;

	httpbuf_free(&b);
	httpbuf_init(&b);
	httpbuf_json_string(&b, s);
	return b.data;
}

int
main(void)
{
	HttpSeriesRequest r;
	HttpFilterRequest f;
	HttpError	err;
	HttpBuf		b;
	char		out[64];
	char		big[HTTP_QUERY_MAX_LEN + 64];

	/* --- the query string */
	ok(http_query_parse("/api/bars?source=a&symbol=B%2FC+D&&limit=10", &q, &err) && q.nparams == 3 &&
	   strcmp(http_query_get(&q, "symbol"), "B/C D") == 0, "decoded: %2F and + (empty segments skipped)");
	ok(http_query_parse("/api/status", &q, &err) && q.nparams == 0, "no query string: no parameters");
	ok(http_query_parse("/x?a=&b", &q, &err) && http_query_get(&q, "a") == NULL &&
	   http_query_get(&q, "b") == NULL, "an empty value is an absent parameter");
	ok(!http_query_parse("/x?a=%zz", &q, &err) && err.status == 400, "%zz refused");
	ok(!http_query_parse("/x?a=%4", &q, &err) && err.status == 400, "a cut escape refused");
	ok(!http_query_parse("/x?a=%00", &q, &err) && err.status == 400, "%00 refused");
	ok(!http_query_parse("/x?=1", &q, &err) && err.status == 400, "a parameter without a name refused");
	ok(!http_query_parse("/x?a=1&a=2", &q, &err) && strcmp(err.parameter, "a") == 0,
	   "a parameter given twice refused, named");
	ok(!http_query_parse("/x?a=1&b=1&c=1&d=1&e=1&f=1&g=1&h=1&i=1&j=1&k=1&l=1&m=1&n=1&o=1&p=1&q=1", &q, &err) &&
	   err.status == 400, "17 parameters refused");
	memset(big, 'a', sizeof(big));
	memcpy(big, "/x?a=", 5);
	big[sizeof(big) - 1] = '\0';
	ok(!http_query_parse(big, &q, &err) && err.status == 414, "a query string over 4096 bytes: 414");
	ok(http_path_ok("/static/app.js?x=%00") && !http_path_ok("/static/app.js%00.html") &&
	   !http_path_ok("/api/status\x01"), "%00 or a control byte in the path refused, not in the query");

	/* --- /api/bars */
	ok(bars("/api/bars?source=fake&symbol=BTCUSDT", &r, &err) == 0 && r.interval.minutes == 1 &&
	   strcmp(r.interval.name, "1m") == 0 && r.limit == 5000 && r.from == NULL && r.to == NULL &&
	   r.session[0] == '\0', "defaults: 1m, limit 5000, no range, no session");
	ok(bars("/api/bars?source=fake&symbol=X&limit=999999999", &r, &err) == 0 && r.limit == 50000,
	   "a limit above the row limit is lowered to it");
	ok(bars("/api/bars?source=fake&symbol=X&interval=60m", &r, &err) == 0 && strcmp(r.interval.name, "1h") == 0,
	   "60m is named 1h");
	ok(bars("/api/bars?source=fake&symbol=X&interval=1440m", &r, &err) == 0 && strcmp(r.interval.name, "1d") == 0,
	   "1440m is named 1d");
	ok(bars("/api/bars?source=fake&symbol=X&interval=90m", &r, &err) == 0 && r.interval.minutes == 90 &&
	   strcmp(r.interval.name, "90m") == 0, "90m stays 90m");
	ok(bars("/api/bars?source=fake&symbol=X&interval=4h", &r, &err) == 0 && r.interval.minutes == 240,
	   "4h is 240 minutes");
	ok(bars("/api/bars?source=fake&symbol=X&interval=366d", &r, &err) == 0, "366d is the longest");
	ok(bars("/api/bars?source=fake&symbol=X&session=xnys&interval=1d", &r, &err) == 0 &&
	   strcmp(r.session, "XNYS") == 0, "a session in upper case");
	ok(bars("/api/bars?source=fake&symbol=X&from=2024-01-02T15:04:05.123%2B02:00&to=2024-01-03", &r, &err) == 0 &&
	   strcmp(r.from, "2024-01-02T15:04:05.123+02:00") == 0, "an ISO 8601 time with an offset");
	refused("/api/bars?symbol=X", "source");
	refused("/api/bars?source=a%20b&symbol=X", "source");
	refused("/api/bars?source=fake", "symbol");
	refused("/api/bars?source=fake&symbol=%0a", "symbol");
	refused("/api/bars?source=fake&symbol=%ff", "symbol");
	refused("/api/bars?source=fake&symbol=X&interval=0m", "interval");
	refused("/api/bars?source=fake&symbol=X&interval=367d", "interval");
	refused("/api/bars?source=fake&symbol=X&interval=1w", "interval");
	refused("/api/bars?source=fake&symbol=X&interval=m", "interval");
	refused("/api/bars?source=fake&symbol=X&interval=-5m", "interval");
	refused("/api/bars?source=fake&symbol=X&from=1%27%3B", "from");
	refused("/api/bars?source=fake&symbol=X&to=" "01234567890123456789012345678901234567890123456789012345678901234", "to");
	refused("/api/bars?source=fake&symbol=X&limit=0", "limit");
	refused("/api/bars?source=fake&symbol=X&limit=1e3", "limit");
	refused("/api/bars?source=fake&symbol=X&session=X-NYS", "session");
	refused("/api/bars?source=fake&symbol=X&session=XNYS&interval=2d", "interval");
	refused("/api/bars?source=fake&symbol=X&intervall=5m", "intervall");

	/* --- /api/trades, /api/status, /api/events */
	ok(http_query_parse("/api/trades?source=s&symbol=X&interval=1m", &q, &err) &&
	   !http_trades_request(&q, 5000, 50000, &r, &err) && strcmp(err.parameter, "interval") == 0,
	   "trades take no interval");
	ok(http_query_parse("/api/events?symbol=X", &q, &err) && http_filter_request(&q, true, &f, &err) &&
	   f.source == NULL && strcmp(f.symbol, "X") == 0, "events: a symbol alone");
	ok(http_query_parse("/api/status?symbol=X", &q, &err) && !http_filter_request(&q, false, &f, &err) &&
	   strcmp(err.parameter, "symbol") == 0, "status takes no symbol");

	/* --- dashboard files */
	ok(http_static_name_ok("lightweight-charts.standalone.production.js") && http_static_name_ok("app.js"),
	   "plain file names");
	ok(!http_static_name_ok("../x.js") && !http_static_name_ok("a/b.js") && !http_static_name_ok(".env") &&
	   !http_static_name_ok("a..js") && !http_static_name_ok("") && !http_static_name_ok("a\\b.js"),
	   "no path, no dot file, no ..");
	ok(strcmp(http_content_type("index.html"), "text/html; charset=utf-8") == 0 &&
	   strcmp(http_content_type("app.js"), "text/javascript; charset=utf-8") == 0 &&
	   strcmp(http_content_type("style.css"), "text/css; charset=utf-8") == 0 &&
	   strcmp(http_content_type("logo.svg"), "image/svg+xml") == 0 &&
	   http_content_type("notes.txt") == NULL && http_content_type("Makefile") == NULL &&
	   http_content_type("app.JS") == NULL, "types by extension; others not served");

	/* --- --listen */
	listen_case("127.0.0.1:8484", 1, 1, "127.0.0.1 is loopback");
	listen_case("127.1.2.3:0", 1, 1, "127.0.0.0/8 is loopback");
	listen_case("localhost:80", 1, 1, "localhost is 127.0.0.1");
	listen_case("8484", 1, 1, "a port alone is on 127.0.0.1");
	listen_case("[::1]:8484", 1, 1, "::1 is loopback");
	listen_case("[::ffff:127.0.0.1]:1", 1, 1, "IPv4-mapped loopback is loopback");
	listen_case("0.0.0.0:8484", 1, 0, "0.0.0.0 is not loopback");
	listen_case("[::]:8484", 1, 0, ":: is not loopback");
	listen_case("10.1.2.3:80", 1, 0, "a private address is not loopback");
	listen_case("example.com:80", 0, 0, "a host name is refused");
	listen_case("127.0.0.1:65536", 0, 0, "a port above 65535 is refused");
	listen_case("127.0.0.1:", 0, 0, "no port is refused");
	listen_case("::1:80", 0, 0, "IPv6 without brackets is refused");
	listen_case("[::1]80", 0, 0, "brackets without a colon are refused");

	/* --- a notification's payload */
	ok(http_json_top_string("{\"interval\": \"00:01:00\", \"x\": {\"source\": \"inner\"}, \"source\": \"binance\"}",
							"source", out, sizeof(out)) && strcmp(out, "binance") == 0,
	   "the top-level member, not a nested one");
	ok(http_json_top_string("{\"symbol\": \"BTC\\/USD\\u00e9\"}", "symbol", out, sizeof(out)) &&
	   strcmp(out, "BTC/USD\xc3\xa9") == 0, "escapes decoded");
	ok(!http_json_top_string("{\"source\": 5}", "source", out, sizeof(out)), "not a string: not there");
	ok(!http_json_top_string("{\"source\": \"abcdefgh\"}", "source", out, 4), "too long: not there");
	ok(!http_json_top_string("[\"source\", \"x\"]", "source", out, sizeof(out)) &&
	   !http_json_top_string("{\"source\": \"x", "source", out, sizeof(out)), "not an object, or cut: not there");

	/* --- text written back */
	ok(strcmp(json_of("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"") == 0, "JSON: quotes, backslashes, controls");
	ok(strcmp(json_of("\xc3\xa9\xff\xc0\xaf"), "\"\xc3\xa9\\ufffd\\ufffd\\ufffd\"") == 0,
	   "JSON: valid UTF-8 kept, invalid bytes U+FFFD");
	httpbuf_init(&b);
	httpbuf_sse_event(&b, "bars", "{\"a\": 1}\r\n\nevent: x");
	ok(strcmp(b.data, "event: bars\ndata: {\"a\": 1}\ndata: \ndata: event: x\n\n") == 0,
	   "SSE: each line of data its own data line");
	httpbuf_free(&b);
	httpbuf_init(&b);
	err = (HttpError) {400, "unknown parameter", "a\"b"};
	httpbuf_error_json(&b, &err);
	ok(strcmp(b.data, "{\"error\": \"unknown parameter\", \"parameter\": \"a\\\"b\"}\n") == 0, "the error body");
	httpbuf_free(&b);
	json_of("");

	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
