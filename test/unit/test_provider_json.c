// unit-sources: src/providers/*.c src/decimal.c src/validate.c
// unit-libs: json-c libcurl
/*-------------------------------------------------------------------------
 * test_provider_json.c
 *	  Unit tests of what providers build on: the null- and type-safe JSON
 *	  accessors of provider_json.h, the depth-bounded parse, the JSON
 *	  emitters, header checks, URL building (request.h) and saturating
 *	  arithmetic.  Prints TAP.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/provider_json.h"
#include "providers/request.h"

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

static void
is_str(const char *got, const char *want, const char *name)
{
	ok(got != NULL && strcmp(got, want) == 0, name);
	if (got == NULL || strcmp(got, want) != 0)
		printf("#   got: '%s'\n#   expected: '%s'\n", got ? got : "(null)", want);
}

static json_object *
J(const char *text)
{
	json_object *o = NULL;
	char		err[128];

	if (sync_parse_json(text, strlen(text), &o, "test", err, sizeof(err)) != SYNC_PARSE_OK)
		printf("# could not parse %s: %s\n", text, err);
	return o;
}

static void
test_lookups(void)
{
	json_object *o = J("{\"s\":\"x\",\"n\":null,\"i\":5,\"z\":\"a\\u0000b\",\"a\":[1,null],\"o\":{}}");

	ok(sync_json_type_is(NULL, json_type_null) && !sync_json_type_is(NULL, json_type_string),
	   "type_is: NULL stands for JSON null");
	is_str(sync_json_get_string(o, "s"), "x", "get_string: a string");
	ok(sync_json_get_string(o, "n") == NULL && sync_json_get_string(o, "i") == NULL &&
	   sync_json_get_string(o, "missing") == NULL && sync_json_get_string(o, "z") == NULL &&
	   sync_json_get_string(NULL, "s") == NULL && sync_json_get_string(sync_json_get(o, "a", json_type_array), "s") == NULL,
	   "get_string: NULL for null, a number, absent, a NUL inside, or no object");
	ok(sync_json_has(o, "n") && sync_json_is_null(o, "n") && !sync_json_is_null(o, "missing") &&
	   !sync_json_has(o, "missing") && !sync_json_is_null(o, "s"), "has / is_null tell absent from null");
	ok(sync_json_get(o, "o", json_type_object) != NULL && sync_json_get(o, "o", json_type_array) == NULL &&
	   sync_json_get(o, "n", json_type_null) == NULL, "get: only of the type asked");
	ok(sync_json_length(sync_json_get(o, "a", json_type_array)) == 2 && sync_json_length(o) == 0 &&
	   sync_json_length(NULL) == 0 && sync_json_at(o, 0) == NULL &&
	   sync_json_at(sync_json_get(o, "a", json_type_array), 5) == NULL, "length and at are safe on anything");
	json_object_put(o);
}

static void
test_fields(void)
{
	json_object *o = J("{\"s\":\"x\",\"n\":null,\"i\":5,\"d\":1.0,\"q\":\"7\",\"b\":true,\"big\":9223372036854775808,"
					   "\"max\":9223372036854775807,\"min\":-9223372036854775808,\"huge\":99999999999999999999,"
					   "\"neg\":-1,\"inf\":1e400,\"nan\":NaN,\"t\":\"2021-02-30T00:00:00Z\",\"ts\":\"2021-02-01T00:00:00.123456Z\","
					   "\"dec\":1.50,\"exp\":\"1e5\",\"long\":\"1234567890123456789012345678901234567890123456789012\"}");
	const char *s;
	int64_t		v;
	int			b;
	char		dec[SYNC_NUM_LEN];

	ok(sync_json_string(o, "s", &s) == NULL && strcmp(s, "x") == 0, "string: good");
	is_str(sync_json_string(o, "n", &s), "field \"n\" is null", "string: null");
	is_str(sync_json_string(o, "gone", &s), "field \"gone\" is missing", "string: missing");
	is_str(sync_json_string(o, "i", &s), "field \"i\" is not a string", "string: a number");
	ok(sync_json_opt_string(o, "n", &s) == NULL && s == NULL && sync_json_opt_string(o, "gone", &s) == NULL,
	   "opt_string: null and absent are fine");
	ok(sync_json_int64(o, "i", 0, 10, &v) == NULL && v == 5, "int64: good");
	is_str(sync_json_int64(o, "d", 0, 10, &v), "field \"d\" is not an integer", "int64: 1.0 is not an integer");
	is_str(sync_json_int64(o, "q", 0, 10, &v), "field \"q\" is not an integer", "int64: \"7\" is not an integer");
	is_str(sync_json_int64(o, "b", 0, 10, &v), "field \"b\" is not an integer", "int64: true is not an integer");
	is_str(sync_json_int64(o, "big", INT64_MIN, INT64_MAX, &v), "field \"big\" is out of range",
		   "int64: 2^63 (json-c clamps it) is out of range");
	is_str(sync_json_int64(o, "huge", INT64_MIN, INT64_MAX, &v), "field \"huge\" is out of range",
		   "int64: 1e20 is out of range");
	ok(sync_json_int64(o, "max", INT64_MIN, INT64_MAX, &v) != NULL &&
	   sync_json_int64(o, "min", INT64_MIN, INT64_MAX, &v) != NULL,
	   "int64: the two values json-c clamps to are refused");
	is_str(sync_json_int64(o, "i", 6, 10, &v), "field \"i\" is out of range", "int64: below min");
	ok(sync_json_opt_int64(o, "n", 0, 10, &v, -7) == NULL && v == -7 &&
	   sync_json_opt_int64(o, "gone", 0, 10, &v, -8) == NULL && v == -8, "opt_int64: null and absent");
	is_str(sync_json_opt_int64(o, "s", 0, 10, &v, -7), "field \"s\" is not an integer", "opt_int64: wrong type");
	ok(sync_json_opt_bool(o, "b", &b) == NULL && b == 1 && sync_json_opt_bool(o, "n", &b) == NULL && b == -1,
	   "opt_bool: true, null");
	is_str(sync_json_opt_bool(o, "s", &b), "field \"s\" is not a boolean", "opt_bool: a string");
	is_str(sync_json_time_ms(o, "neg", &v), "field \"neg\" is out of range", "time_ms: -1 is no time");
	ok(sync_json_time_ms(o, "i", &v) == NULL && v == 5000, "time_ms: ms to us");
	is_str(sync_json_time_rfc3339(o, "t", &v), "field \"t\" is not an RFC 3339 time in range",
		   "rfc3339: an impossible date");
	ok(sync_json_time_rfc3339(o, "ts", &v) == NULL && v == 1612137600123456LL, "rfc3339: to the us");
	is_str(sync_json_time_rfc3339(o, "i", &v), "field \"i\" is not a string", "rfc3339: a number");
	ok(sync_json_member_decimal(o, "dec", dec, true) == NULL && strcmp(dec, "1.50") == 0,
	   "decimal: a number's text as written");
	ok(sync_json_member_decimal(o, "exp", dec, true) == NULL && strcmp(dec, "100000") == 0,
	   "decimal: an exponent written out");
	is_str(sync_json_member_decimal(o, "inf", dec, true), "field \"inf\" is not a finite number", "decimal: 1e400");
	is_str(sync_json_member_decimal(o, "nan", dec, true), "field \"nan\" is not a finite number", "decimal: NaN");
	is_str(sync_json_member_decimal(o, "huge", dec, true), "field \"huge\" is out of range",
		   "decimal: an integer json-c clamped");
	is_str(sync_json_member_decimal(o, "b", dec, true), "field \"b\" is not a number", "decimal: a boolean");
	is_str(sync_json_member_decimal(o, "long", dec, true), "field \"long\" is too long for a decimal",
		   "decimal: too long");
	is_str(sync_json_member_decimal(o, "gone", dec, true), "field \"gone\" is missing", "decimal: required");
	ok(sync_json_member_decimal(o, "n", dec, false) == NULL && dec[0] == '\0', "decimal: optional null is none");
	is_str(sync_json_member_decimal(o, "n", dec, true), "field \"n\" is null", "decimal: required null");
	json_object_put(o);

	o = J("[1637971200000,\"1\",null,2.5]");
	ok(sync_json_at_int64(o, 0, "open time", 0, INT64_MAX, &v) == NULL && v == 1637971200000LL, "at_int64: good");
	is_str(sync_json_at_decimal(o, 2, "high", dec, true), "field 2 (high) is null", "at_decimal: null, by position");
	is_str(sync_json_at_decimal(o, 3, "low", dec, true), "field 3 (low) is not a string", "at_decimal: string only");
	ok(sync_json_at_decimal(o, 3, "low", dec, false) == NULL && strcmp(dec, "2.5") == 0, "at_decimal: a number");
	is_str(sync_json_at_int64(o, 9, "count", 0, 1, &v), "field 9 (count) is missing", "at_int64: past the end");
	json_object_put(o);
}

static void
test_parse(void)
{
	char		body[64];
	char		err[128];
	json_object *o;

	memset(body, '[', 15);
	memset(body + 15, ']', 15);
	body[30] = '\0';
	ok(sync_parse_json(body, 30, &o, "X", err, sizeof(err)) == SYNC_PARSE_OK, "15 levels of nesting parse");
	json_object_put(o);
	memset(body, '[', 16);
	memset(body + 16, ']', 16);
	body[32] = '\0';
	ok(sync_parse_json(body, 32, &o, "X", err, sizeof(err)) == SYNC_PARSE_MALFORMED && o == NULL, "16 do not");
	is_str(err, "malformed JSON from X: nested deeper than 15 levels", "and the error says so");
	ok(sync_parse_json("[1] [2]", 7, &o, "X", err, sizeof(err)) == SYNC_PARSE_MALFORMED, "two values are malformed");
	ok(sync_parse_json("[1]", 3, &o, "X", err, sizeof(err)) == SYNC_PARSE_OK, "the tokener is reset between parses");
	json_object_put(o);
}

static void
test_counts(void)
{
	json_object *a = J("[1,2,3,4,5,6,7]");
	char		err[160];
	SyncTrade	t[4];
	SyncBar		b[2];
	SyncPage	page = {.trades = t, .trade_capacity = 4, .bars = b, .bar_capacity = 2, .ntrades = 1};
	SyncBarQuery q = {.limit = 3};
	SyncStreamSet set = {NULL, 0, &page};

	ok(sync_json_array_fits(a, 4, "X", "y", err, sizeof(err)), "7 elements for 4 asked: walked (each refused)");
	ok(!sync_json_array_fits(a, 3, "X", "y", err, sizeof(err)), "7 for 3: refused whole");
	is_str(err, "X y answer holds 7 elements, more than twice the 3 the page asked for", "saying so");
	ok(!sync_json_array_fits(a, 0, "X", "y", err, sizeof(err)) && sync_json_array_fits(NULL, 0, "X", "y", err, sizeof(err)),
	   "nothing asked: any element is too many; no array is none");
	ok(sync_page_asked(&page, &q, true) == 3 && sync_page_asked(&page, &q, false) == 3 &&
	   (q.limit = 1, sync_page_asked(&page, &q, true)) == 3, "asked: the limit, or the page's room if larger");
	ok(!sync_stream_array_fits(&set, a, "M", err, sizeof(err)) && strstr(err, "room for") != NULL,
	   "a stream array of 7 for a batch with room for 5 is refused");
	page.trade_capacity = 8;
	ok(sync_stream_array_fits(&set, a, "M", err, sizeof(err)), "with room for 9 it is walked");
	json_object_put(a);
}

static void
test_emit(void)
{
	char		buf[64];
	SyncBar		bar = {.ts_ms = 60000, .open = "1\"", .high = "\\", .low = "l", .close = "c", .volume = "v"};
	json_object *o;
	json_object *back = NULL;
	json_object *v;

	o = json_object_new_object();
	json_object_object_add(o, "a", json_object_new_string("x/\"y"));
	ok(sync_json_emit(o, buf, sizeof(buf), true) && strcmp(buf, "{\"a\":\"x/\\\"y\"}") == 0,
	   "emit: compact, / left alone, quotes escaped");
	o = json_object_new_object();
	json_object_object_add(o, "a", json_object_new_string("xy"));
	ok(!sync_json_emit(o, buf, 10, false) && buf[0] == '\0', "emit: 10 bytes do not fit {\"a\":\"xy\"} and its NUL");
	o = json_object_new_object();
	json_object_object_add(o, "a", json_object_new_string("xy"));
	ok(sync_json_emit(o, buf, 11, false), "emit: 11 do");
	ok(!sync_json_emit(NULL, buf, sizeof(buf), false), "emit: nothing built (out of memory) is false");
	ok(sync_bar_to_json(&bar, buf, sizeof(buf)) && (back = json_tokener_parse(buf)) != NULL &&
	   json_object_object_get_ex(back, "o", &v) && strcmp(json_object_get_string(v), "1\"") == 0 &&
	   json_object_object_get_ex(back, "h", &v) && strcmp(json_object_get_string(v), "\\") == 0,
	   "bar_to_json: quotes and backslashes in a bar's text stay JSON");
	json_object_put(back);
	ok(!sync_bar_to_json(&bar, buf, 20) && buf[0] == '\0', "bar_to_json: false when it does not fit");
}

static void
test_headers(void)
{
	SyncRequest req;
	char		longkey[SYNC_HEADER_LEN];

	memset(&req, 0, sizeof(req));
	ok(sync_request_add_header(&req, "K: %s", "abc") && strcmp(req.headers[0], "K: abc") == 0 &&
	   req.headers[1] == NULL, "a header");
	ok(!sync_request_add_header(&req, "K: %s", "a\r\nX-Evil: 1") && !sync_request_add_header(&req, "K: %s", "a\nb") &&
	   !sync_request_add_header(&req, "K: %s", "a\tb") && !sync_request_add_header(&req, "K: %s", "a\x7f") &&
	   req.headers[1] == NULL, "CR, LF and other control characters are refused");
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	ok(!sync_request_add_header(&req, "K: %s", longkey) && req.headers[1] == NULL &&
	   req.header_buf[1][0] == '\0', "a header that does not fit is refused, and its part wiped");
	for (int i = 1; i < SYNC_MAX_HEADERS; i++)
		sync_request_add_header(&req, "K: %s", "x");
	ok(!sync_request_add_header(&req, "K: %s", "y"), "no room for another header: refused");
}

static void
test_urls(void)
{
	SyncUrl		u;
	char		url[SYNC_URL_LEN];
	char		err[160];
	char		enc[16];

	ok(sync_url_escape("A/B ?#%&~-._", enc, 64 > sizeof(enc) ? sizeof(enc) : 64) == false,
	   "escape: false when it does not fit");
	{
		char		big[64];

		ok(sync_url_escape("A/B ?#%&~-._", big, sizeof(big)) && strcmp(big, "A%2FB%20%3F%23%25%26~-._") == 0,
		   "escape: all but the unreserved characters");
	}
	sync_url_init(&u);
	sync_url_path(&u, "/v2");
	sync_url_segment(&u, "symbol", "BTC/USD", "/bars");
	sync_url_param(&u, "feed", "a&b=c");
	sync_url_param_raw(&u, "start", "2021-01-01T00:00:00Z");
	sync_url_param_int(&u, "limit", -5);
	ok(sync_url_finish(&u, "https://h:8/pre/?k=1", url, sizeof(url), err, sizeof(err)), "a URL");
	is_str(url, "https://h:8/pre/v2/BTC%2fUSD/bars?k=1&feed=a%26b%3dc&start=2021-01-01T00:00:00Z&limit=-5",
		   "the base's path and query kept, every part where it belongs (libcurl writes hex in lowercase)");
	sync_url_init(&u);
	sync_url_segment(&u, "symbol", "..", NULL);
	ok(!sync_url_finish(&u, "http://h", url, sizeof(url), err, sizeof(err)) && url[0] == '\0', "'..' is refused");
	is_str(err, "the symbol \"..\" cannot be part of a URL path", "saying why");
	sync_url_init(&u);
	sync_url_segment(&u, "symbol", "", NULL);
	ok(!sync_url_finish(&u, "http://h", url, sizeof(url), err, sizeof(err)), "an empty segment is refused");
	sync_url_init(&u);
	ok(!sync_url_finish(&u, "http://h/#x", url, sizeof(url), err, sizeof(err)) && strstr(err, "fragment"),
	   "a base with a fragment is refused");
	ok(!sync_url_finish(&u, "not a url", url, sizeof(url), err, sizeof(err)) && strstr(err, "not a URL"),
	   "a base that is no URL is refused");
	ok(sync_url_finish(&u, "ws://s:1", url, sizeof(url), err, sizeof(err)) && strcmp(url, "ws://s:1/") == 0,
	   "any scheme (ws, wss)");
	ok(!sync_url_finish(&u, "http://h/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", url, 20, err, sizeof(err)) &&
	   strstr(err, "longer") != NULL && url[0] == '\0', "a URL that does not fit is refused");
	{
		char	   *longsym = malloc(SYNC_URL_LEN);

		memset(longsym, '/', SYNC_URL_LEN - 1);
		longsym[SYNC_URL_LEN - 1] = '\0';
		sync_url_init(&u);
		sync_url_segment(&u, "symbol", longsym, NULL);
		ok(!sync_url_finish(&u, "http://h", url, sizeof(url), err, sizeof(err)) && strstr(err, "longer"),
		   "a symbol whose encoding does not fit is refused");
		free(longsym);
	}
}

static void
test_arithmetic(void)
{
	ok(sync_add_sat(INT64_MAX, 1) == INT64_MAX && sync_add_sat(INT64_MIN, -1) == INT64_MIN &&
	   sync_add_sat(5, -6) == -1, "add saturates");
	ok(sync_mul_sat(INT64_MAX, 1000) == INT64_MAX && sync_mul_sat(INT64_MIN, 1000) == INT64_MIN &&
	   sync_mul_sat(-INT64_MAX, -2) == INT64_MAX && sync_mul_sat(-3, 1000) == -3000, "mul saturates");
}

int
main(void)
{
	test_lookups();
	test_fields();
	test_parse();
	test_counts();
	test_emit();
	test_headers();
	test_urls();
	test_arithmetic();
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
