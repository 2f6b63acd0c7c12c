// unit-sources: src/providers/*.c src/decimal.c src/validate.c
// unit-libs: json-c libcurl
/*-------------------------------------------------------------------------
 * test_provider_hostile.c
 *	  Every provider driven as a hostile or broken provider would drive it,
 *	  through the SyncProvider interface only (so the same file runs
 *	  against older sources, to show what they did): a JSON null, a wrong
 *	  type, a huge number or nothing at all in EVERY field of a good REST
 *	  answer or stream message, taken apart programmatically; deep and
 *	  huge bodies; symbols that are no URL part; secrets and symbols with
 *	  quotes in hello messages; keys with line breaks in headers; queries
 *	  at the int64 limits.  Built with -fsanitize=address,undefined while
 *	  developing: a crash or undefined behaviour ends the test.
 *
 * Each field's mutations run in a child process, so a crash is reported
 * as a failure of that field ("not ok ... crashed") and the rest go on.
 * Prints TAP.
 *-------------------------------------------------------------------------
 */
#include <ctype.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "providers/provider.h"

/* a sanitizer's report ends a child with 99: told apart from a failed check (1) */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);
const char *
__asan_default_options(void)
{
	return "exitcode=99";
}
const char *
__ubsan_default_options(void)
{
	return "exitcode=99:print_stacktrace=1";
}

#ifdef SYNC_COVERAGE
/* gcov's: writes the counts so far (scripts/test.sh defines SYNC_COVERAGE with --coverage) */
extern void __gcov_dump(void);
#endif

static int	tests = 0;
static int	failed = 0;

static void
ok(int cond, const char *name)
{
	tests++;
	if (!cond)
		failed++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tests, name);
	fflush(stdout);
}

/* ---- a page and a stream set for one parse ---- */

#define CAP 16
static SyncBar bars[CAP];
static SyncTrade trades[CAP];
static SyncReject rejects[CAP];
static SyncPage page;
static char err[256];
static SyncBarQuery sq[2];
static SyncStreamTarget targets[2];
static SyncStreamSet set;

static void
reset_page(int capacity)
{
	memset(&page, 0, sizeof(page));
	page.bars = bars;
	page.bar_capacity = capacity;
	page.trades = trades;
	page.trade_capacity = capacity;
	page.rejects = rejects;
	page.reject_capacity = CAP;
	page.last_ts_ms = INT64_MIN;
	memset(err, 0, sizeof(err));
}

/* a set of sym's trades and its 1-minute bars (only trades for Coinbase) */
static SyncStreamSet *
stream_set(const char *sym, bool bars_too, const char *feed)
{
	reset_page(CAP);
	for (int i = 0; i < 2; i++)
	{
		sq[i] = (SyncBarQuery) {.symbol = sym, .interval_ms = i == 0 ? 1 : 60000, .feed = feed,
		.from_ms = INT64_MIN, .to_ms = INT64_MAX, .key_id = "K", .secret = "S"};
		targets[i] = (SyncStreamTarget) {&sq[i], i == 0, false};
	}
	set = (SyncStreamSet) {targets, bars_too ? 2 : 1, &page};
	return &set;
}

static SyncBarQuery
rest_query(const char *feed)
{
	SyncBarQuery q = {.base_url = "http://h", .symbol = "S", .interval_ms = 60000, .feed = feed,
		.from_ms = 1637971200000LL, .to_ms = 4102444800000LL, .limit = 10};

	return q;
}

/* ---- fixtures: one good answer each, and what its fields are ---- */

typedef enum
{
	BARS, TRADES, STREAM
} Kind;

typedef struct Fixture
{
	const char *name;
	const SyncProvider *p;
	Kind		kind;
	const char *feed;			/* Binance's raw trade feed */
	const char *sym;			/* a stream set's symbol */
	const char *good;
	int			accepted;		/* records the good answer gives */
	/* JSON pointers, space-separated: */
	const char *required;		/* record fields: every bad value refuses it, naming the field */
	const char *optional;		/* null or absent is fine; any other bad value refuses, naming it */
	const char *routing;		/* a message's type or symbol: like required, but absent may be a control message */
} Fixture;

static const Fixture fixtures[] = {
	{"binance klines", &sync_provider_binance, BARS, NULL, NULL,
		"[[1637971200000,\"1\",\"2\",\"0.5\",\"1.5\",\"10\",1637971259999,\"15\",7,\"0\",\"0\",\"0\"]]", 1,
	"/0/0 /0/1 /0/2 /0/3 /0/4 /0/5 /0/7 /0/8", "", ""},
	{"binance aggTrades", &sync_provider_binance, TRADES, NULL, NULL,
		"[{\"a\":5,\"p\":\"1.5\",\"q\":\"2\",\"f\":1,\"l\":2,\"T\":1637971200001,\"m\":true,\"M\":true}]", 1,
	"/0/a /0/p /0/q /0/T", "/0/m", ""},
	{"binance raw trades", &sync_provider_binance, TRADES, "trade", NULL,
		"[{\"id\":28457,\"price\":\"4.00000100\",\"qty\":\"12.00000000\",\"quoteQty\":\"48.000012\","
		"\"time\":1637971200001,\"isBuyerMaker\":true,\"isBestMatch\":true}]", 1,
	"/0/id /0/price /0/qty /0/time", "/0/isBuyerMaker", ""},
	{"binance aggTrade stream", &sync_provider_binance, STREAM, NULL, "BTCUSDT",
		"{\"e\":\"aggTrade\",\"E\":2,\"s\":\"BTCUSDT\",\"a\":7,\"p\":\"1.50\",\"q\":\"2\",\"f\":1,\"l\":1,"
		"\"T\":1,\"m\":true,\"M\":true}", 1,
	"/a /p /q /T", "/m", "/e /s"},
	{"binance trade stream", &sync_provider_binance, STREAM, "trade", "BTCUSDT",
		"{\"e\":\"trade\",\"E\":2,\"s\":\"BTCUSDT\",\"t\":12345,\"p\":\"0.001\",\"q\":\"100\","
		"\"T\":123456785,\"m\":false,\"M\":true}", 1,
	"/t /p /q /T", "/m", "/e /s"},
	{"binance kline stream (combined)", &sync_provider_binance, STREAM, NULL, "BTCUSDT",
		"{\"stream\":\"btcusdt@kline_1m\",\"data\":{\"e\":\"kline\",\"E\":1,\"s\":\"BTCUSDT\",\"k\":{\"t\":60000,"
		"\"T\":119999,\"s\":\"BTCUSDT\",\"i\":\"1m\",\"f\":1,\"L\":2,\"o\":\"1\",\"c\":\"1.5\",\"h\":\"2\","
		"\"l\":\"0.5\",\"v\":\"10\",\"n\":3,\"x\":true,\"q\":\"1\",\"V\":\"1\",\"Q\":\"1\",\"B\":\"0\"}}}", 1,
	"/data/k/t /data/k/o /data/k/h /data/k/l /data/k/c /data/k/v", "/data/k/n",
	"/data/e /data/s /data/k/i /data/k/x"},
	{"alpaca bars", &sync_provider_alpaca, BARS, NULL, NULL,
		"{\"bars\":[{\"t\":\"2021-11-27T00:00:00Z\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":10,\"n\":3,"
		"\"vw\":1.2}],\"symbol\":\"S\",\"next_page_token\":null}", 1,
	"/bars/0/t /bars/0/o /bars/0/h /bars/0/l /bars/0/c /bars/0/v", "/bars/0/n /bars/0/vw", ""},
	{"alpaca trades", &sync_provider_alpaca, TRADES, NULL, NULL,
		"{\"trades\":[{\"t\":\"2021-11-27T00:00:00.5Z\",\"x\":\"V\",\"p\":1.5,\"s\":100,\"c\":[\" \"],"
		"\"i\":7,\"z\":\"C\"}],\"symbol\":\"S\",\"next_page_token\":null}", 1,
	"/trades/0/t /trades/0/x /trades/0/p /trades/0/s /trades/0/i", "", ""},
	{"alpaca stream", &sync_provider_alpaca, STREAM, NULL, "AAPL",
		"[{\"T\":\"t\",\"S\":\"AAPL\",\"i\":5,\"x\":\"V\",\"p\":1.5,\"s\":100,\"t\":\"2024-01-02T14:30:00.123Z\","
		"\"c\":[\"@\"],\"z\":\"C\"},{\"T\":\"b\",\"S\":\"AAPL\",\"o\":1,\"h\":2,\"l\":0.5,\"c\":1.5,\"v\":9,"
		"\"t\":\"2024-01-02T14:30:00Z\",\"n\":3,\"vw\":1.2}]", 2,
	"/0/i /0/x /0/p /0/s /0/t /1/o /1/h /1/l /1/c /1/v /1/t", "/1/n /1/vw", "/0/T /0/S /1/T /1/S"},
	{"alpaca stream control", &sync_provider_alpaca, STREAM, NULL, "AAPL",
		"[{\"T\":\"success\",\"msg\":\"authenticated\"},{\"T\":\"subscription\",\"trades\":[\"AAPL\"],"
		"\"quotes\":[],\"bars\":[\"AAPL\"]}]", 0, "", "", ""},
	{"alpaca stream error", &sync_provider_alpaca, STREAM, NULL, "AAPL",
		"[{\"T\":\"error\",\"code\":402,\"msg\":\"auth failed\"}]", 0, "", "/0/code /0/msg", ""},
	{"polygon aggregates", &sync_provider_polygon, BARS, NULL, NULL,
		"{\"ticker\":\"S\",\"status\":\"OK\",\"results\":[{\"t\":1637971200000,\"o\":1,\"h\":2.5,\"l\":0.5,"
		"\"c\":1.5,\"v\":1000,\"vw\":1.2,\"n\":3}],\"resultsCount\":1,\"adjusted\":false}", 1,
	"/results/0/t /results/0/o /results/0/h /results/0/l /results/0/c /results/0/v",
	"/results/0/vw /results/0/n", "/status"},
	{"polygon trades", &sync_provider_polygon, TRADES, NULL, NULL,
		"{\"status\":\"OK\",\"results\":[{\"sip_timestamp\":1637971200000123456,\"participant_timestamp\":1,"
		"\"id\":\"9\",\"exchange\":4,\"price\":1.5,\"size\":10,\"conditions\":[12],\"tape\":3}]}", 1,
	"/results/0/sip_timestamp /results/0/id /results/0/exchange /results/0/price /results/0/size",
	"", "/status"},
	{"polygon error answer", &sync_provider_polygon, BARS, NULL, NULL,
		"{\"status\":\"ERROR\",\"request_id\":\"x\",\"error\":\"bad\",\"message\":\"m\"}", 0, "", "", ""},
	{"polygon stream", &sync_provider_polygon, STREAM, NULL, "AAPL",
		"[{\"ev\":\"T\",\"sym\":\"AAPL\",\"x\":4,\"i\":\"12345\",\"z\":3,\"p\":114.125,\"s\":100,\"c\":[0,12],"
		"\"t\":1536036818784,\"q\":3681328},{\"ev\":\"AM\",\"sym\":\"AAPL\",\"v\":4110,\"av\":1,\"op\":1,"
		"\"vw\":0.4488,\"o\":0.4488,\"c\":0.4486,\"h\":0.4489,\"l\":0.4486,\"a\":1,\"z\":1,"
		"\"s\":1610144640000,\"e\":1610144700000}]", 2,
	"/0/x /0/i /0/p /0/s /0/t /1/o /1/c /1/h /1/l /1/v /1/s", "/1/vw", "/0/ev /0/sym /1/ev /1/sym"},
	{"polygon stream status", &sync_provider_polygon, STREAM, NULL, "AAPL",
		"[{\"ev\":\"status\",\"status\":\"success\",\"message\":\"subscribed to: T.AAPL\"}]", 0,
	"", "/0/message", "/0/ev /0/status"},
	{"coinbase candles", &sync_provider_coinbase, BARS, NULL, NULL,
		"[[1637971200,1,2,1.5,1.6,10]]", 1, "/0/0 /0/1 /0/2 /0/3 /0/4 /0/5", "", ""},
	{"coinbase trades", &sync_provider_coinbase, TRADES, NULL, NULL,
		"[{\"time\":\"2024-01-02T00:00:01.5Z\",\"trade_id\":502,\"price\":\"10.5\",\"size\":\"1\","
		"\"side\":\"buy\"}]", 1, "/0/time /0/trade_id /0/price /0/size", "/0/side", ""},
	{"coinbase match stream", &sync_provider_coinbase, STREAM, NULL, "ETH-USD",
		"{\"type\":\"match\",\"trade_id\":10,\"maker_order_id\":\"a\",\"taker_order_id\":\"b\",\"side\":\"sell\","
		"\"size\":\"5.23512\",\"price\":\"400.23\",\"product_id\":\"ETH-USD\",\"sequence\":50,"
		"\"time\":\"2014-11-07T08:19:27.028459Z\"}", 1,
	"/trade_id /size /price /time", "/side", "/type /product_id"},
	{"coinbase stream control", &sync_provider_coinbase, STREAM, NULL, "ETH-USD",
		"{\"type\":\"subscriptions\",\"channels\":[{\"name\":\"matches\",\"product_ids\":[\"ETH-USD\"]},"
		"{\"name\":\"heartbeat\",\"product_ids\":[\"ETH-USD\"]}]}", 0, "", "", "/type"},
	{"coinbase stream error", &sync_provider_coinbase, STREAM, NULL, "ETH-USD",
		"{\"type\":\"error\",\"message\":\"Failed to subscribe\",\"reason\":\"FOO is not a valid product\"}", 0,
	"", "/message /reason", "/type"},
};

/*
 * What a mutated field holds.  NAMED values are wrong for every field a
 * provider reads (no field is a boolean but the optional maker flags,
 * skipped for those): the record must be refused with a reason naming the
 * field.  -1 is wrong for every required field (times, ids, counts, prices
 * and sizes are never negative) but validation may say so without the
 * name.  The others only must not crash.
 */
#define DELETE NULL
static const char *const named_values[] = {
	"null", "{}", "[]", "true", "1e400", "-1e400", "9223372036854775808",
	"99999999999999999999", "-99999999999999999999", "\"a\\u0000b\"", DELETE
};
static const char *const other_values[] = {
	"-1", "\"x\"", "\"\"", "7", "1.5", "0", "\"2021-02-30T00:00:00Z\"", "\"9999-12-31T23:59:60Z\"",
	"-9223372036854775808", "9223372036854775807", "1e308", "[[[[1]]]]", "{\"a\":null}"
};

/* the parse a fixture asks for; the count of records it kept */
static SyncParseStatus
run(const Fixture *f, const char *body, int *accepted)
{
	SyncParseStatus st;

	if (f->kind == STREAM)
	{
		SyncStreamSet *s = stream_set(f->sym, f->p != &sync_provider_coinbase, f->feed);

		st = f->p->parse_stream(body, strlen(body), s, err, sizeof(err));
	}
	else
	{
		SyncBarQuery q = rest_query(f->feed);

		reset_page(10);
		st = (f->kind == TRADES ? f->p->parse_trades : f->p->parse_bars) (body, strlen(body), &q, &page,
																		   err, sizeof(err));
	}
	*accepted = page.nbars + page.ntrades;
	return st;
}

/* is word (a space-separated item) in list? */
static bool
listed(const char *list, const char *word)
{
	size_t		n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

/* does the reason (a reject's or errbuf) name the field? ("field \"p\"" or "field 3 (") */
static bool
names_field(const char *key, SyncParseStatus st)
{
	char		quoted[80],
				positional[80];

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	snprintf(positional, sizeof(positional), "field %s (", key);
	for (int i = 0; i < page.nrejects && i < CAP; i++)
		if (strstr(page.rejects[i].reason, quoted) || strstr(page.rejects[i].reason, positional))
			return true;
	return st != SYNC_PARSE_OK && (strstr(err, quoted) || strstr(err, positional));
}

/* the JSON pointers of every value in v (under prefix), appended to out */
static void
collect_paths(json_object *v, const char *prefix, char (*out)[128], int *n, int max)
{
	char		path[128];

	if (json_object_is_type(v, json_type_object))
	{
		json_object_object_foreach(v, key, child)
		{
			snprintf(path, sizeof(path), "%s/%s", prefix, key);
			if (*n < max)
				snprintf(out[(*n)++], 128, "%s", path);
			collect_paths(child, path, out, n, max);
		}
	}
	else if (json_object_is_type(v, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(v); i++)
		{
			snprintf(path, sizeof(path), "%s/%zu", prefix, i);
			if (*n < max)
				snprintf(out[(*n)++], 128, "%s", path);
			collect_paths(json_object_array_get_idx(v, i), path, out, n, max);
		}
	}
}

/*
 * good with the value at path replaced by value's text (DELETE: removed),
 * into a malloc'd string.  The value goes in as a placeholder string
 * swapped for the raw text after printing, so numbers json-c would print
 * otherwise (1e400, 2^63) reach the parser as written.
 */
static char *
mutate(const char *good, const char *path, const char *value, json_object **orig)
{
	json_object *root = json_tokener_parse(good);
	json_object *parent = root;
	const char *p = path + 1;
	char		key[128];
	const char *printed;
	const char *hole;
	char	   *out;

	/* walk to the parent of the last component */
	for (;;)
	{
		const char *slash = strchr(p, '/');
		size_t		n = slash ? (size_t) (slash - p) : strlen(p);

		memcpy(key, p, n);
		key[n] = '\0';
		if (slash == NULL)
			break;
		parent = json_object_is_type(parent, json_type_array) ?
			json_object_array_get_idx(parent, atoi(key)) : json_object_object_get(parent, key);
		p = slash + 1;
	}
	*orig = NULL;
	if (json_object_is_type(parent, json_type_array))
	{
		size_t		i = (size_t) atoi(key);

		*orig = json_object_get(json_object_array_get_idx(parent, i));
		if (value == DELETE)
			json_object_array_del_idx(parent, i, 1);
		else
			json_object_array_put_idx(parent, i, json_object_new_string("@@HOLE@@"));
	}
	else
	{
		*orig = json_object_get(json_object_object_get(parent, key));
		if (value == DELETE)
			json_object_object_del(parent, key);
		else
			json_object_object_add(parent, key, json_object_new_string("@@HOLE@@"));
	}
	printed = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	out = malloc(strlen(printed) + (value ? strlen(value) : 0) + 1);
	if ((hole = strstr(printed, "\"@@HOLE@@\"")) == NULL)
		strcpy(out, printed);
	else
		sprintf(out, "%.*s%s%s", (int) (hole - printed), printed, value, hole + 10);
	json_object_put(root);
	return out;
}

/*
 * Every mutation of one field of fixture f, in this (child) process;
 * returns the number of failed checks, each printed as a diagnostic.
 */
static int
mutate_field(const Fixture *f, const char *path)
{
	const char *key = strrchr(path, '/') + 1;
	bool		req = listed(f->required, path);
	bool		opt = listed(f->optional, path);
	bool		rout = listed(f->routing, path);
	int			bad = 0;
	int			accepted;

	for (int k = 0; k < (int) (sizeof(named_values) / sizeof(named_values[0]) +
							   sizeof(other_values) / sizeof(other_values[0])); k++)
	{
		int			nn = (int) (sizeof(named_values) / sizeof(named_values[0]));
		bool		named = k < nn;
		const char *value = named ? named_values[k] : other_values[k - nn];
		json_object *orig;
		char	   *body = mutate(f->good, path, value, &orig);
		SyncParseStatus st = run(f, body, &accepted);
		bool		refused = accepted < f->accepted || st != SYNC_PARSE_OK || page.nrejects > 0;
		/* an element deleted from a kline or candle moves the ones after it: no name to expect */
		bool		positional = key[0] >= '0' && key[0] <= '9';
		const char *why = NULL;

		if (memchr(err, '\0', sizeof(err)) == NULL)
			why = "errbuf is not a string";
		else if (st != SYNC_PARSE_OK && st != SYNC_PARSE_MALFORMED && st != SYNC_PARSE_PROVIDER_ERROR &&
				 st != SYNC_PARSE_SUBSCRIBED)
			why = "unknown status";
		else if (st != SYNC_PARSE_OK && err[0] == '\0')
			why = "refused without a word in errbuf";
		else if (json_object_is_type(orig, json_type_boolean) && value != NULL && strcmp(value, "true") == 0)
			why = NULL;			/* a boolean for a boolean is no mutation */
		else if (named && (req || (rout && value != DELETE) ||
						   (opt && value != DELETE && strcmp(value, "null") != 0)))
		{
			if (!refused)
				why = "accepted";
			else if (!names_field(key, st) && !(positional && value == DELETE))
				why = "refused without naming the field";
		}
		else if (req && strcmp(value, "-1") == 0 && !refused)
			why = "-1 accepted";
		/* an RFC 3339 field: a day that does not exist, a time past 9999 */
		else if (req && value[0] == '"' && isdigit((unsigned char) value[1]) && !refused &&
				 json_object_is_type(orig, json_type_string) && strchr(json_object_get_string(orig), 'T'))
			why = "an impossible time accepted";
		if (why != NULL)
		{
			printf("#   %s %s = %s: %s (status %d, kept %d, reason '%s', errbuf '%s')\n", f->name, path,
				   value ? value : "(deleted)", why, st, accepted,
				   page.nrejects > 0 ? page.rejects[0].reason : "", err);
			bad++;
		}
		json_object_put(orig);
		free(body);
	}
	return bad;
}

/* a check run in a child process: a crash is a failure, not the end of the test */
static void
ok_in_child(int (*fn) (const void *), const void *arg, const char *name)
{
	pid_t		pid;
	int			status;
	char		label[300];

	fflush(stdout);
	pid = fork();
	if (pid == 0)
	{
		int			bad = fn(arg);

		fflush(stdout);
#ifdef SYNC_COVERAGE
		__gcov_dump();			/* _exit would drop what the child covered */
#endif
		_exit(bad == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
	{
		ok(0, name);
		return;
	}
	if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) > 1))
	{
		snprintf(label, sizeof(label), "%s (CRASHED: %s)", name,
				 WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "sanitizer report");
		ok(0, label);
	}
	else
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, name);
}

typedef struct FieldCase
{
	const Fixture *f;
	const char *path;
} FieldCase;

static int
field_case(const void *arg)
{
	const FieldCase *c = arg;

	return mutate_field(c->f, c->path);
}

static int
good_case(const void *arg)
{
	const Fixture *f = arg;
	int			accepted;
	SyncParseStatus st = run(f, f->good, &accepted);

	if (accepted != f->accepted || page.nrejects != 0 || (st != SYNC_PARSE_OK && f->accepted > 0))
	{
		printf("#   good answer: status %d, kept %d, %d refused ('%s'), errbuf '%s'\n", st, accepted,
			   page.nrejects, page.nrejects ? page.rejects[0].reason : "", err);
		return 1;
	}
	return 0;
}

static void
test_every_field(void)
{
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
	{
		const Fixture *f = &fixtures[i];
		json_object *root = json_tokener_parse(f->good);
		static char paths[256][128];
		int			n = 0;
		char		name[300];

		snprintf(name, sizeof(name), "%s: the good answer gives %d record(s)", f->name, f->accepted);
		ok_in_child(good_case, f, name);
		collect_paths(root, "", paths, &n, 256);
		json_object_put(root);
		for (int k = 0; k < n; k++)
		{
			FieldCase	c = {f, paths[k]};

			snprintf(name, sizeof(name), "%s: %s null, wrong types, huge numbers, absent: %s", f->name, paths[k],
					 listed(f->required, paths[k]) ? "refused, naming the field" :
					 listed(f->optional, paths[k]) ? "null fine, else refused naming it" :
					 listed(f->routing, paths[k]) ? "refused (a malformed message), naming it" : "no crash");
			ok_in_child(field_case, &c, name);
		}
	}
}

/* ---- deep and huge bodies ---- */

static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t		hl = strlen(head),
				ul = strlen(unit),
				tl = strlen(tail);
	char	   *s = malloc(hl + ul * n + tl + 1);

	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * n, tail, tl + 1);
	return s;
}

static int
deep_case(const void *arg)
{
	const SyncProvider *p = arg;
	char	   *deep = repeat("", "[", 100000, "");
	char	   *deep20 = repeat("", "[", 20, "");
	int			bad = 0;
	SyncBarQuery q = rest_query(NULL);

	for (int k = 0; k < 3; k++)
	{
		SyncParseStatus st;
		const char *body = k < 2 ? deep : deep20;

		/* a deep but closed body: 20 levels, no record anywhere */
		if (k == 2)
		{
			char	   *closed = malloc(41);

			memset(closed, '[', 20);
			memset(closed + 20, ']', 20);
			closed[40] = '\0';
			reset_page(10);
			st = p->parse_bars(closed, 40, &q, &page, err, sizeof(err));
			if (st != SYNC_PARSE_MALFORMED || strstr(err, "nested") == NULL)
			{
				printf("#   %s: 20 levels of [] gave status %d, errbuf '%s'\n", p->name, st, err);
				bad++;
			}
			free(closed);
			continue;
		}
		reset_page(10);
		if (k == 0)
			st = p->parse_bars(body, strlen(body), &q, &page, err, sizeof(err));
		else
			st = p->parse_stream(body, strlen(body), stream_set("S", p != &sync_provider_coinbase, NULL),
								 err, sizeof(err));
		if (st != SYNC_PARSE_MALFORMED)
		{
			printf("#   %s: 100000 [ gave status %d\n", p->name, st);
			bad++;
		}
	}
	free(deep);
	free(deep20);
	return bad;
}

/* 100000 empty elements answering a page of 10: refused whole, before walking */
static int
huge_case(const void *arg)
{
	const SyncProvider *p = arg;
	const char *head = p == &sync_provider_alpaca ? "{\"bars\":[" :
		p == &sync_provider_polygon ? "{\"status\":\"OK\",\"results\":[" : "[";
	const char *tail = p == &sync_provider_alpaca || p == &sync_provider_polygon ? "[]]}" : "[]]";
	char	   *body = repeat(head, "[],", 100000, tail);
	SyncBarQuery q = rest_query(NULL);
	SyncParseStatus st;

	reset_page(10);
	st = p->parse_bars(body, strlen(body), &q, &page, err, sizeof(err));
	free(body);
	if (st != SYNC_PARSE_MALFORMED || page.nreceived != 0)
	{
		printf("#   %s: 100001 elements for a page of 10: status %d, %d walked, errbuf '%s'\n", p->name, st,
			   page.nreceived, err);
		return 1;
	}
	return 0;
}

static int
huge_stream_case(const void *arg)
{
	const SyncProvider *p = arg;
	char	   *body = repeat("[", "{\"ev\":\"x\",\"T\":\"x\"},", 100000, "{}]");
	SyncParseStatus st = p->parse_stream(body, strlen(body), stream_set("S", true, NULL), err, sizeof(err));

	free(body);
	if (st != SYNC_PARSE_MALFORMED)
	{
		printf("#   %s: a stream array of 100001 elements: status %d\n", p->name, st);
		return 1;
	}
	return 0;
}

static const SyncProvider *const json_providers[] = {
	&sync_provider_binance, &sync_provider_alpaca, &sync_provider_polygon, &sync_provider_coinbase
};

static void
test_deep_and_huge(void)
{
	char		name[200];

	for (int i = 0; i < 4; i++)
	{
		snprintf(name, sizeof(name), "%s: nesting past 16 levels is malformed (bars and stream)",
				 json_providers[i]->name);
		ok_in_child(deep_case, json_providers[i], name);
		snprintf(name, sizeof(name), "%s: an answer of 100001 elements for a page of 10 is refused before walking it",
				 json_providers[i]->name);
		ok_in_child(huge_case, json_providers[i], name);
	}
	ok_in_child(huge_stream_case, &sync_provider_alpaca,
				"alpaca: a stream array larger than the batch's room is malformed");
	ok_in_child(huge_stream_case, &sync_provider_polygon,
				"polygon: a stream array larger than the batch's room is malformed");
}

/* ---- URLs ---- */

/*
 * The URL a provider built for symbol must, parsed back, have as many
 * path segments and query parameters as the one for "S", no fragment,
 * and hold the symbol once decoded.  NULL when so, else what is wrong.
 */
static int
url_shape(const char *url, int *segments, int *params, char **decoded)
{
	CURLU	   *h = curl_url();
	char	   *path = NULL,
			   *query = NULL,
			   *frag = NULL;
	int			ok = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_FRAGMENT, &frag, 0) != CURLUE_OK;

	*segments = *params = 0;
	if (ok && curl_url_get(h, CURLUPART_PATH, &path, 0) == CURLUE_OK)
		for (const char *c = path; *c; c++)
			*segments += *c == '/';
	if (ok && curl_url_get(h, CURLUPART_QUERY, &query, 0) == CURLUE_OK)
	{
		*params = 1;
		for (const char *c = query; *c; c++)
			*params += *c == '&';
	}
	*decoded = curl_easy_unescape(NULL, url, 0, NULL);
	curl_free(path);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(h);
	return ok;
}

static const char *const hostile_symbols[] = {"BTC/USDT", "A?B", "A#B", "A B", "A%41B", "A&x=1", "..", "A\"B"};

typedef struct UrlCase
{
	const SyncProvider *p;
	bool		trades;
	const char *symbol;
} UrlCase;

static int
url_case(const void *arg)
{
	const UrlCase *c = arg;
	SyncBarQuery q = rest_query(NULL);
	SyncRequest req;
	int			seg0,
				par0,
				seg,
				par;
	char	   *dec;
	bool		(*build) (const SyncBarQuery *, SyncRequest *, char *, size_t) =
		c->trades ? c->p->trades_request : c->p->bars_request;

	memset(&req, 0, sizeof(req));
	if (!build(&q, &req, err, sizeof(err)) || !url_shape(req.url, &seg0, &par0, &dec))
	{
		printf("#   the URL for S did not build: %s\n", err);
		return 1;
	}
	curl_free(dec);
	q.symbol = c->symbol;
	memset(&req, 0, sizeof(req));
	err[0] = '\0';
	if (!build(&q, &req, err, sizeof(err)))
		return err[0] == '\0';	/* refused, saying why: fine */
	if (!url_shape(req.url, &seg, &par, &dec) || seg != seg0 || par != par0 || strstr(dec, c->symbol) == NULL)
	{
		printf("#   %s: %s gave %s (%d segments, %d parameters; with S %d, %d)\n", c->p->name, c->symbol,
			   req.url, seg, par, seg0, par0);
		curl_free(dec);
		return 1;
	}
	curl_free(dec);
	return 0;
}

static void
test_urls(void)
{
	char		name[200];

	for (int i = 0; i < 4; i++)
		for (int t = 0; t < 2; t++)
			for (size_t s = 0; s < sizeof(hostile_symbols) / sizeof(hostile_symbols[0]); s++)
			{
				UrlCase		c = {json_providers[i], t == 1, hostile_symbols[s]};

				snprintf(name, sizeof(name), "%s %s URL: the symbol '%s' is one encoded part, or refused",
						 json_providers[i]->name, t ? "trades" : "bars", hostile_symbols[s]);
				ok_in_child(url_case, &c, name);
			}
}

/* the Binance stream URL keeps a hostile symbol inside its stream name */
static int
binance_stream_url_case(const void *arg)
{
	SyncStreamSet *s = stream_set("A/B?C#D", true, NULL);
	char		url[SYNC_URL_LEN];

	(void) arg;
	if (!sync_provider_binance.stream_url(s, "ws://s:1", url, sizeof(url), err, sizeof(err)))
		return err[0] == '\0';
	if (strchr(url, '#') != NULL || strstr(url, "A/B") != NULL || strchr(url + 5, '?') !=
		strstr(url, "?streams="))
	{
		printf("#   got %s\n", url);
		return 1;
	}
	return 0;
}

/* ---- hello messages ---- */

/* parse msg back; NULL when it is no JSON object */
static json_object *
parse_back(const char *msg)
{
	json_object *o = json_tokener_parse(msg);

	if (!json_object_is_type(o, json_type_object))
	{
		json_object_put(o);
		return NULL;
	}
	return o;
}

static bool
member_is(json_object *o, const char *key, const char *want)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string) &&
		strcmp(json_object_get_string(v), want) == 0;
}

static const char *const evil_secret = "s\"e\\c,\"x\":\"y\"}\n\u00e9/";
static const char *const evil_key = "k\\\"";
static const char *const evil_symbol = "A\"B\\C";

static int
hello_case(const void *arg)
{
	const SyncProvider *p = arg;
	SyncStreamSet *s = stream_set(evil_symbol, p != &sync_provider_coinbase, NULL);
	char		msg[1024];
	int			bad = 0;

	sq[0].key_id = sq[1].key_id = evil_key;
	sq[0].secret = sq[1].secret = evil_secret;
	for (int n = 0; n < 2 && p->stream_hello(s, n, msg, sizeof(msg)); n++)
	{
		json_object *o = parse_back(msg);
		json_object *v;

		if (o == NULL)
		{
			printf("#   %s hello %d is no JSON object: %s\n", p->name, n, msg);
			bad++;
			continue;
		}
		/* the auth message carries the secret (and Alpaca's key) whole */
		if (p == &sync_provider_alpaca && n == 0 &&
			(!member_is(o, "key", evil_key) || !member_is(o, "secret", evil_secret) || json_object_object_length(o) != 3))
			bad++, printf("#   alpaca auth does not round-trip: %s\n", msg);
		if (p == &sync_provider_polygon && n == 0 &&
			(!member_is(o, "params", evil_secret) || json_object_object_length(o) != 2))
			bad++, printf("#   polygon auth does not round-trip: %s\n", msg);
		/* the subscribe message names the symbol whole */
		if (p == &sync_provider_alpaca && n == 1 &&
			(!json_object_object_get_ex(o, "trades", &v) || json_object_array_length(v) != 1 ||
			 strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), evil_symbol) != 0))
			bad++, printf("#   alpaca subscribe does not round-trip: %s\n", msg);
		if (p == &sync_provider_coinbase &&
			(!json_object_object_get_ex(o, "product_ids", &v) || json_object_array_length(v) != 1 ||
			 strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), evil_symbol) != 0))
			bad++, printf("#   coinbase subscribe does not round-trip: %s\n", msg);
		json_object_put(o);
	}
	/* a buffer too small: false, and nothing written past it */
	{
		char		small[48];

		memset(small, 'Z', sizeof(small));
		if (p->stream_hello(s, 0, small, 20) || memchr(small + 20, 'Z', 28) != small + 20)
			bad++, printf("#   %s: a hello that does not fit was sent or overflowed\n", p->name);
	}
	return bad;
}

static void
test_hellos(void)
{
	ok_in_child(hello_case, &sync_provider_alpaca,
				"alpaca: key, secret and symbols with quotes and backslashes round-trip through the hellos");
	ok_in_child(hello_case, &sync_provider_polygon,
				"polygon: a secret with quotes and backslashes round-trips through the auth message");
	ok_in_child(hello_case, &sync_provider_coinbase,
				"coinbase: a symbol with quotes and backslashes round-trips through the subscribe message");
	ok_in_child(binance_stream_url_case, NULL,
				"binance: a symbol with /, ? and # stays inside its stream name");
}

/* ---- headers ---- */

static int
header_case(const void *arg)
{
	const SyncProvider *p = arg;
	SyncBarQuery q = rest_query(NULL);
	SyncRequest req;
	int			bad = 0;
	const char *evil[] = {"K\r\nX-Evil: 1", "K\nX-Evil: 1", "K\rX"};

	for (int e = 0; e < 3; e++)
		for (int t = 0; t < 2; t++)
		{
			bool		built;

			q.key_id = q.secret = evil[e];
			memset(&req, 0, sizeof(req));
			err[0] = '\0';
			built = (t ? p->trades_request : p->bars_request) (&q, &req, err, sizeof(err));
			for (int h = 0; built && h < SYNC_MAX_HEADERS && req.headers[h] != NULL; h++)
				if (strpbrk(req.headers[h], "\r\n") != NULL)
				{
					printf("#   %s: header '%s' carries a line break\n", p->name, req.headers[h]);
					bad++;
				}
			if (!built && err[0] == '\0')
				bad++;
		}
	return bad;
}

static void
test_headers(void)
{
	ok_in_child(header_case, &sync_provider_binance, "binance: a key with CR/LF injects no header");
	ok_in_child(header_case, &sync_provider_alpaca, "alpaca: a key or secret with CR/LF injects no header");
	ok_in_child(header_case, &sync_provider_polygon, "polygon: a key with CR/LF injects no header");
}

/* ---- queries at the int64 limits: no signed overflow (UBSan) ---- */

static int
extreme_case(const void *arg)
{
	const SyncProvider *p = arg;
	const int64_t v[] = {INT64_MIN, INT64_MIN + 1, -1, 0, INT64_MAX - 1, INT64_MAX};
	SyncRequest req;

	for (int a = 0; a < 6; a++)
		for (int b = 0; b < 6; b++)
		{
			SyncBarQuery q = rest_query(NULL);

			q.from_ms = v[a];
			q.to_ms = v[b];
			q.from_id = v[(a + b) % 6];
			q.limit = b % 2 ? 1000 : 2147483647;
			memset(&req, 0, sizeof(req));
			(void) p->bars_request(&q, &req, err, sizeof(err));
			memset(&req, 0, sizeof(req));
			(void) p->trades_request(&q, &req, err, sizeof(err));
			if (memchr(req.url, '\0', sizeof(req.url)) == NULL)
				return 1;
		}
	return 0;
}

static void
test_extremes(void)
{
	char		name[200];

	for (int i = 0; i < 4; i++)
	{
		snprintf(name, sizeof(name), "%s: requests for times and ids at the int64 limits do not overflow",
				 json_providers[i]->name);
		ok_in_child(extreme_case, json_providers[i], name);
	}
}

/* ---- a refused candle's payload, rebuilt as JSON ---- */

static int
payload_case(const void *arg)
{
	SyncBarQuery q = rest_query(NULL);
	const char *body = "[[1637971200,\"1\\\"}x\\\\\",2,1.5,1.6,10]]";
	json_object *o;
	SyncParseStatus st;
	int			bad = 0;

	(void) arg;
	reset_page(10);
	st = sync_provider_coinbase.parse_bars(body, strlen(body), &q, &page, err, sizeof(err));
	if (st != SYNC_PARSE_OK || page.nrejects != 1)
		return 1;
	o = json_tokener_parse(page.rejects[0].payload);
	if (!json_object_is_type(o, json_type_object) || !member_is(o, "l", "1\"}x\\"))
	{
		printf("#   payload %s\n", page.rejects[0].payload);
		bad++;
	}
	json_object_put(o);
	return bad;
}

/* ---- huge numbers where times are: refused, no overflow ---- */

static int
huge_time_case(const void *arg)
{
	SyncBarQuery q = rest_query(NULL);
	const char *bodies[] = {
		"[[9223372036854776,1,2,1.5,1.6,10]]",	/* Coinbase s: * 1000 overflows */
		"[[-9223372036854776,1,2,1.5,1.6,10]]",
		"[[1e400,1,2,1.5,1.6,10]]",
	};

	(void) arg;
	q.to_ms = INT64_MAX;
	for (int i = 0; i < 3; i++)
	{
		reset_page(10);
		if (sync_provider_coinbase.parse_bars(bodies[i], strlen(bodies[i]), &q, &page, err, sizeof(err)) !=
			SYNC_PARSE_OK || page.nbars != 0 || page.nrejects != 1)
		{
			printf("#   %s: kept %d\n", bodies[i], page.nbars);
			return 1;
		}
	}
	return 0;
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_every_field();
	test_deep_and_huge();
	test_urls();
	test_hellos();
	test_headers();
	test_extremes();
	ok_in_child(payload_case, NULL, "coinbase: a refused candle's payload is JSON that holds its text whole");
	ok_in_child(huge_time_case, NULL, "coinbase: candle times past the range are refused, never multiplied");
	printf("1..%d\n", tests);
	return failed ? 1 : 0;
}
