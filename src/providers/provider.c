/*-------------------------------------------------------------------------
 * provider.c
 *	  The table of providers, the helpers every provider uses to fill a
 *	  page, and the only code that reads a provider's JSON with json-c's
 *	  own getters: the null- and type-safe accessors of provider_json.h,
 *	  and the routing of a multi-symbol answer's records to their series
 *	  (provider_multi.h).
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "decimal.h"
#include "provider_multi.h"
#include "validate.h"

static const SyncProvider *const providers[] = {
	&sync_provider_binance,
	&sync_provider_alpaca,
	&sync_provider_polygon,
	&sync_provider_coinbase,
	&sync_provider_csv,
};

const SyncProvider *
sync_provider_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

/* Keep a refused record; past the capacity only the count grows. */
void
sync_page_reject(SyncPage *page, const char *reason, const char *payload)
{
	SyncReject *r;

	if (page->nrejects >= page->reject_capacity)
		return;
	r = &page->rejects[page->nrejects++];
	r->ts_ms = INT64_MIN;
	r->target = 0;
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	snprintf(r->payload, sizeof(r->payload), "%s", payload ? payload : "");
}

/* Refuse a JSON element, kept as its text (only printed when refused). */
void
sync_page_reject_json(SyncPage *page, const char *reason, json_object *e)
{
	if (page->nrejects < page->reject_capacity)
		sync_page_reject(page, reason, json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
	else
		sync_page_reject(page, reason, NULL);
}

/*
 * Copy decimal text, writing an exponent form ("1.5e-7", as JSON encoders
 * print tiny numbers) out as plain digits; false when it does not fit.
 * Text that is no number at all is copied as is for validation to refuse.
 */
bool
sync_copy_decimal(char *dst, const char *src)
{
	size_t		len = strlen(src);

	if (strpbrk(src, "eE") != NULL)
		return sync_decimal_expand(src, dst, SYNC_NUM_LEN);
	if (len >= SYNC_NUM_LEN)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

/*
 * Validate the bar just parsed into page->bars[page->nbars] and keep it, or
 * reject it with its payload: the text given, else the JSON element's
 * text, else the bar as JSON (an element is only printed when refused:
 * printing every one costs as much as parsing it).  Keeps last_ts_ms up to
 * date: only a time in the asked range may move the checkpoint.
 */
static void
accept_bar(SyncPage *page, const SyncBarQuery *q, int64_t *prev_ts, const char *payload,
		   json_object *e)
{
	SyncBar    *bar = &page->bars[page->nbars];
	const char *why = sync_validate_bar(bar, q, *prev_ts);

	if (bar->ts_ms > page->last_ts_ms && bar->ts_ms >= q->from_ms && bar->ts_ms < q->to_ms)
		page->last_ts_ms = bar->ts_ms;
	if (why != NULL)
	{
		char		json[SYNC_PAYLOAD_LEN];
		int			before = page->nrejects;

		if (payload == NULL && e != NULL)
			payload = json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN);
		if (payload == NULL)
		{
			/* a bar too long for a payload keeps an empty one: the reason says why */
			sync_bar_to_json(bar, json, sizeof(json));
			payload = json;
		}
		sync_page_reject(page, why, payload);
		/* a refused bar's minute is missing data, not a quiet minute */
		if (page->nrejects > before && bar->ts_ms >= q->from_ms && bar->ts_ms < q->to_ms)
			page->rejects[before].ts_ms = bar->ts_ms;
		return;
	}
	*prev_ts = bar->ts_ms;
	page->nbars++;
}

void
sync_page_accept(SyncPage *page, const SyncBarQuery *q, int64_t *prev_ts, const char *payload)
{
	accept_bar(page, q, prev_ts, payload, NULL);
}

/* Validate the trade just parsed into page->trades[ntrades]; keep or reject it. */
static void
accept_trade(SyncPage *page, const SyncBarQuery *q, const char *payload, json_object *e)
{
	SyncTrade  *t = &page->trades[page->ntrades];
	const char *why;

	int64_t		ms = sync_ms_of_us(t->ts_us);

	/* newer than the asked end: the next poll asks for it, not refused */
	if (ms >= q->to_ms)
		return;
	why = sync_validate_trade(t, q);
	if (ms > page->last_ts_ms && ms >= q->from_ms && ms < q->to_ms)
		page->last_ts_ms = ms;
	if (why == NULL)
		page->ntrades++;
	else if (payload != NULL)
		sync_page_reject(page, why, payload);
	else
		sync_page_reject_json(page, why, e);
}

void
sync_page_accept_trade(SyncPage *page, const SyncBarQuery *q, const char *payload)
{
	accept_trade(page, q, payload, NULL);
}

/*
 * Does body nest arrays and objects deeper than max levels?  Looked at
 * before json-c parses: json-c 0.16 refuses such a body too, but leaks
 * the levels it built (about 90 bytes each), and a stream may send one
 * message after another.  Brackets inside strings do not count.
 */
static bool
json_too_deep(const char *body, size_t len, int max)
{
	int			depth = 0;
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		char		c = body[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
		{
			if (++depth > max)
				return true;
		}
		else if ((c == ']' || c == '}') && depth > 0)
			depth--;
	}
	return false;
}

/*
 * Parse a whole body as one JSON value; trailing bytes other than white
 * space make it malformed (a truncated or concatenated answer), and so
 * does nesting deeper than SYNC_JSON_MAX_DEPTH - 1 levels.
 */
SyncParseStatus
sync_parse_json(const char *body, size_t len, json_object **root, const char *who,
				char *errbuf, size_t errlen)
{
	/* one tokener for every parse: creating one costs more than a small message */
	static json_tokener *tok = NULL;
	enum json_tokener_error jerr;

	*root = NULL;
	if (tok == NULL && (tok = json_tokener_new_ex(SYNC_JSON_MAX_DEPTH)) == NULL)
	{
		snprintf(errbuf, errlen, "out of memory parsing JSON from %s", who);
		return SYNC_PARSE_MALFORMED;
	}
	if (len > INT32_MAX)
	{
		snprintf(errbuf, errlen, "JSON from %s is larger than 2 GB", who);
		return SYNC_PARSE_MALFORMED;
	}
	if (json_too_deep(body, len, SYNC_JSON_MAX_DEPTH - 1))
	{
		snprintf(errbuf, errlen, "malformed JSON from %s: nested deeper than %d levels",
				 who, SYNC_JSON_MAX_DEPTH - 1);
		return SYNC_PARSE_MALFORMED;
	}
	json_tokener_reset(tok);

	*root = json_tokener_parse_ex(tok, body, (int) len);
	jerr = json_tokener_get_error(tok);
	if (*root != NULL && jerr == json_tokener_success)
	{
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
			if (body[i] != ' ' && body[i] != '\n' && body[i] != '\r' && body[i] != '\t')
			{
				jerr = json_tokener_error_parse_unexpected;
				break;
			}
	}
	if (*root == NULL || jerr != json_tokener_success)
	{
		if (jerr == json_tokener_error_depth)
			snprintf(errbuf, errlen, "malformed JSON from %s: nested deeper than %d levels",
					 who, SYNC_JSON_MAX_DEPTH - 1);
		else
			snprintf(errbuf, errlen, "malformed JSON from %s: %s", who,
					 jerr == json_tokener_continue ? "body ends early" : json_tokener_error_desc(jerr));
		json_object_put(*root);
		*root = NULL;
		return SYNC_PARSE_MALFORMED;
	}
	return SYNC_PARSE_OK;
}

/*
 * o as compact JSON (no spaces, "/" left alone) into buf; false, with buf
 * "", when it does not fit.  Releases o.  With wipe, the texts json-c
 * kept (the strings, the printed message) are zeroed before they are
 * freed: a hello holds the API secret.
 */
static void
json_wipe_strings(json_object *o)
{
	if (json_object_is_type(o, json_type_string))
		memset((char *) json_object_get_string(o), 0, json_object_get_string_len(o));
	else if (json_object_is_type(o, json_type_array))
	{
		for (size_t i = 0; i < json_object_array_length(o); i++)
			json_wipe_strings(json_object_array_get_idx(o, i));
	}
	else if (json_object_is_type(o, json_type_object))
	{
		json_object_object_foreach(o, key, v)
		{
			(void) key;
			json_wipe_strings(v);
		}
	}
}

bool
sync_json_emit(json_object *o, char *buf, size_t len, bool wipe)
{
	const char *s;
	size_t		n;
	bool		fits;

	if (len > 0)
		buf[0] = '\0';
	if (o == NULL)
		return false;			/* json-c ran out of memory building it */
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = s != NULL ? strlen(s) : 0;
	fits = s != NULL && n < len;
	if (fits)
		memcpy(buf, s, n + 1);
	if (wipe)
	{
		if (s != NULL)
			memset((char *) s, 0, n);
		json_wipe_strings(o);
	}
	json_object_put(o);
	return fits;
}

/*
 * A bar as JSON, for the payload of a reject that has no raw text left;
 * false (buf "") when it does not fit.  Built with json-c: its decimal
 * fields are provider text, which may hold quotes.
 */
bool
sync_bar_to_json(const SyncBar *b, char *buf, size_t len)
{
	json_object *o = json_object_new_object();

	if (o != NULL)
	{
		json_object_object_add(o, "t", json_object_new_int64(b->ts_ms));
		json_object_object_add(o, "o", json_object_new_string(b->open));
		json_object_object_add(o, "h", json_object_new_string(b->high));
		json_object_object_add(o, "l", json_object_new_string(b->low));
		json_object_object_add(o, "c", json_object_new_string(b->close));
		json_object_object_add(o, "v", json_object_new_string(b->volume));
	}
	return sync_json_emit(o, buf, len, false);
}

/*
 * Add the header fmt % value (fmt holds one %s); false when value holds a
 * control character (a CR or LF would end the header and start another:
 * header injection), when the header does not fit, or when the request
 * has no room for another.
 */
bool
sync_request_add_header(SyncRequest *req, const char *fmt, const char *value)
{
	int			n = 0;

	for (const unsigned char *c = (const unsigned char *) value; *c != '\0'; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	while (req->headers[n] != NULL && n < SYNC_MAX_HEADERS)
		n++;
	if (n == SYNC_MAX_HEADERS)
		return false;
	if (snprintf(req->header_buf[n], SYNC_HEADER_LEN, fmt, value) >= SYNC_HEADER_LEN)
	{
		memset(req->header_buf[n], 0, SYNC_HEADER_LEN);	/* it held part of a key */
		return false;
	}
	req->headers[n] = req->header_buf[n];
	req->headers[n + 1] = NULL;
	return true;
}

/*
 * The null- and type-safe accessors (provider_json.h says why they exist
 * and how they answer).
 */

/* where a refused record's reason is written (provider_json.h) */
static char json_why[SYNC_REASON_LEN];

/* One field of a record: its value (NULL: JSON null) and its name. */
typedef struct JsonField
{
	json_object *v;
	bool		present;
	const char *key;			/* its member name, or NULL: element idx */
	size_t		idx;
	const char *name;			/* what element idx is */
} JsonField;

static JsonField
json_member(json_object *o, const char *key)
{
	JsonField	f = {NULL, false, key, 0, NULL};

	if (json_object_is_type(o, json_type_object))
		f.present = json_object_object_get_ex(o, key, &f.v);
	return f;
}

static JsonField
json_element(json_object *a, size_t i, const char *name)
{
	JsonField	f = {NULL, false, NULL, i, name};

	if (i < sync_json_length(a))
	{
		f.present = true;
		f.v = json_object_array_get_idx(a, i);
	}
	return f;
}

static const char *
field_why(const JsonField *f, const char *what)
{
	if (f->key != NULL)
		snprintf(json_why, sizeof(json_why), "field \"%s\" %s", f->key, what);
	else
		snprintf(json_why, sizeof(json_why), "field %zu (%s) %s", f->idx, f->name, what);
	return json_why;
}

/* NULL when the field is there and not null, else why not */
static const char *
field_given(const JsonField *f)
{
	if (!f->present)
		return field_why(f, "is missing");
	if (f->v == NULL)
		return field_why(f, "is null");
	return NULL;
}

/* a JSON string's text, NULL when v is no string or holds a NUL (\u0000) */
const char *
sync_json_string_of(json_object *v)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	if (s == NULL || strlen(s) != (size_t) json_object_get_string_len(v))
		return NULL;
	return s;
}

static const char *
field_string(const JsonField *f, const char **out)
{
	const char *why = field_given(f);

	if (why != NULL)
		return why;
	if (!json_object_is_type(f->v, json_type_string))
		return field_why(f, "is not a string");
	if ((*out = sync_json_string_of(f->v)) == NULL)
		return field_why(f, "holds a NUL character");
	return NULL;
}

/*
 * A JSON integer in [min, max].  json-c gives INT64_MAX for every integer
 * past 2^63 - 1 (and INT64_MIN below -2^63): those two are refused as out
 * of range, since no value a provider sends is either.
 */
static const char *
field_int64(const JsonField *f, int64_t min, int64_t max, int64_t *out)
{
	const char *why = field_given(f);
	int64_t		v;

	if (why != NULL)
		return why;
	if (!json_object_is_type(f->v, json_type_int))
		return field_why(f, "is not an integer");
	v = json_object_get_int64(f->v);
	if (v == INT64_MAX || v == INT64_MIN || v < min || v > max)
		return field_why(f, "is out of range");
	*out = v;
	return NULL;
}

/*
 * A decimal's exact text: a JSON number (as the provider wrote it) or a
 * string (string_only: a string only).  dst is "" when absent or null and
 * not required.
 */
static const char *
field_decimal(const JsonField *f, char *dst, bool required, bool string_only)
{
	const char *text;

	dst[0] = '\0';
	if (!f->present || f->v == NULL)
		return required ? field_given(f) : NULL;
	switch (json_object_get_type(f->v))
	{
		case json_type_string:
			if ((text = sync_json_string_of(f->v)) == NULL)
				return field_why(f, "holds a NUL character");
			break;
		case json_type_int:
			if (string_only)
				return field_why(f, "is not a string");
			/* json-c clamps integers past 64 bits to these: the text would lie */
			if (json_object_get_int64(f->v) == INT64_MAX || json_object_get_int64(f->v) == INT64_MIN)
				return field_why(f, "is out of range");
			text = json_object_get_string(f->v);
			break;
		case json_type_double:
			if (string_only)
				return field_why(f, "is not a string");
			if (!isfinite(json_object_get_double(f->v)))
				return field_why(f, "is not a finite number");
			text = json_object_get_string(f->v);	/* the number as the provider wrote it */
			break;
		default:
			return field_why(f, string_only ? "is not a string" : "is not a number");
	}
	if (text == NULL || !sync_copy_decimal(dst, text))
	{
		dst[0] = '\0';
		return field_why(f, "is too long for a decimal");
	}
	return NULL;
}

bool
sync_json_type_is(json_object *v, json_type type)
{
	return json_object_is_type(v, type);
}

/* o has the member key (null or not) */
bool
sync_json_has(json_object *o, const char *key)
{
	return json_member(o, key).present;
}

/* o has the member key, and it is null */
bool
sync_json_is_null(json_object *o, const char *key)
{
	JsonField	f = json_member(o, key);

	return f.present && f.v == NULL;
}

/* o's member key if it is of type (not json_type_null), else NULL */
json_object *
sync_json_get(json_object *o, const char *key, json_type type)
{
	JsonField	f = json_member(o, key);

	return f.present && type != json_type_null && json_object_is_type(f.v, type) ? f.v : NULL;
}

/* o's member key if it is a string (without NUL), else NULL */
const char *
sync_json_get_string(json_object *o, const char *key)
{
	return sync_json_string_of(json_member(o, key).v);
}

/* the number of elements of an array; 0 for anything else */
size_t
sync_json_length(json_object *a)
{
	return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* element i of an array; NULL past its end or when a is no array */
json_object *
sync_json_at(json_object *a, size_t i)
{
	return i < sync_json_length(a) ? json_object_array_get_idx(a, i) : NULL;
}

const char *
sync_json_string(json_object *o, const char *key, const char **out)
{
	JsonField	f = json_member(o, key);

	return field_string(&f, out);
}

/* the same, *out = NULL when the field is absent or null */
const char *
sync_json_opt_string(json_object *o, const char *key, const char **out)
{
	JsonField	f = json_member(o, key);

	*out = NULL;
	if (!f.present || f.v == NULL)
		return NULL;
	return field_string(&f, out);
}

const char *
sync_json_int64(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	JsonField	f = json_member(o, key);

	return field_int64(&f, min, max, out);
}

/* the same, *out = absent when the field is absent or null */
const char *
sync_json_opt_int64(json_object *o, const char *key, int64_t min, int64_t max, int64_t *out,
					int64_t absent)
{
	JsonField	f = json_member(o, key);

	if (!f.present || f.v == NULL)
	{
		*out = absent;
		return NULL;
	}
	return field_int64(&f, min, max, out);
}

/* a JSON boolean: *out 1 or 0, or -1 when absent or null */
const char *
sync_json_opt_bool(json_object *o, const char *key, int *out)
{
	JsonField	f = json_member(o, key);

	*out = -1;
	if (!f.present || f.v == NULL)
		return NULL;
	if (!json_object_is_type(f.v, json_type_boolean))
		return field_why(&f, "is not a boolean");
	*out = json_object_get_boolean(f.v) ? 1 : 0;
	return NULL;
}

/*
 * A time in ms since the Unix epoch, as microseconds.  A provider that
 * counts from the epoch never sends a time before it: -1 is a sentinel or
 * a bug, not 1969.  The end is 9999-12-31 (timefmt.h).
 */
const char *
sync_json_time_ms(json_object *o, const char *key, int64_t *us)
{
	int64_t		ms;
	const char *why = sync_json_int64(o, key, 0, SYNC_MAX_MS, &ms);

	if (why == NULL)
		(void) sync_us_from_ms(ms, us);	/* in range: it cannot refuse */
	return why;
}

/* An RFC 3339 time string, as microseconds (strict: the date must exist). */
const char *
sync_json_time_rfc3339(json_object *o, const char *key, int64_t *us)
{
	JsonField	f = json_member(o, key);
	const char *s;
	const char *why = field_string(&f, &s);

	if (why != NULL)
		return why;
	if (!sync_parse_rfc3339(s, us))
		return field_why(&f, "is not an RFC 3339 time in range");
	return NULL;
}

/* A decimal member: a number or a string; an absent optional one gives "". */
const char *
sync_json_member_decimal(json_object *o, const char *key, char *dst, bool required)
{
	JsonField	f = json_member(o, key);

	return field_decimal(&f, dst, required, false);
}

const char *
sync_json_at_int64(json_object *a, size_t i, const char *name, int64_t min, int64_t max,
				   int64_t *out)
{
	JsonField	f = json_element(a, i, name);

	return field_int64(&f, min, max, out);
}

/* A decimal element, required: a number or string (string_only: a string). */
const char *
sync_json_at_decimal(json_object *a, size_t i, const char *name, char *dst, bool string_only)
{
	JsonField	f = json_element(a, i, name);

	return field_decimal(&f, dst, true, string_only);
}

/* What a REST page asked for: the query's limit, or the page's room if larger. */
int64_t
sync_page_asked(const SyncPage *page, const SyncBarQuery *q, bool trades)
{
	int64_t		room = trades ? page->trade_capacity - page->ntrades : page->bar_capacity - page->nbars;

	return q->limit > room ? q->limit : room;
}

/*
 * A REST answer's array must hold about what the page asked for: a few
 * more are refused one by one ("more ... than the page size asked for",
 * evidence in sync.rejects), but more than twice as many is no answer to
 * our request at all, and walking millions of elements (each refused
 * with its text) would cost far more than parsing them did.  false, with
 * errbuf saying so, for such an array.
 */
bool
sync_json_array_fits(json_object *array, int64_t asked, const char *who, const char *what,
					 char *errbuf, size_t errlen)
{
	size_t		n = sync_json_length(array);
	int64_t		most = asked > 0 ? (asked > INT32_MAX ? INT32_MAX : asked) * 2 : 0;

	if (n <= (size_t) most)
		return true;
	snprintf(errbuf, errlen, "%s %s answer holds %zu elements, more than twice the %" PRId64
			 " the page asked for", who, what, n, asked > 0 ? asked : 0);
	return false;
}

static int
bar_ts_cmp(const void *a, const void *b)
{
	int64_t		x = ((const SyncBar *) a)->ts_ms;
	int64_t		y = ((const SyncBar *) b)->ts_ms;

	return x < y ? -1 : x > y;
}

/* Sort bars[from .. from+n) of a page whose provider answers newest first. */
void
sync_page_sort_tail(SyncPage *page, int n)
{
	qsort(&page->bars[page->nbars], n, sizeof(SyncBar), bar_ts_cmp);
}

/*
 * Every element of a JSON array of bars (oldest first) through fn, then
 * validation: kept, or refused with its raw text.  "what" names the
 * elements in the reason given when there are more than the page holds.
 */
void
sync_page_add_bars(SyncPage *page, const SyncBarQuery *q, json_object *array,
				   SyncBarElementFn fn, const char *what)
{
	size_t		n = sync_json_length(array);
	int64_t		prev = INT64_MIN;

	for (size_t i = 0; i < n; i++)
		sync_page_add_bar(page, q, sync_json_at(array, i), fn, what, &prev);
}

/*
 * One bar (a REST array element or a stream message) through fn, then
 * validation: kept, or refused with its raw text.  prev is the time of the
 * bar kept before it, for the order check.
 */
void
sync_page_add_bar(SyncPage *page, const SyncBarQuery *q, json_object *e,
				  SyncBarElementFn fn, const char *what, int64_t *prev)
{
	const char *why;

	page->nreceived++;
	if (page->nbars >= page->bar_capacity)
	{
		char		reason[SYNC_REASON_LEN];

		snprintf(reason, sizeof(reason), "more %s than the page size asked for", what);
		sync_page_reject_json(page, reason, e);
		return;
	}
	page->bars[page->nbars].ts_ms = INT64_MIN;
	why = fn(e, &page->bars[page->nbars]);
	if (why != NULL)
		sync_page_reject_json(page, why, e);
	else
		accept_bar(page, q, prev, NULL, e);
}

/* The same for an array of trades. */
void
sync_page_add_trades(SyncPage *page, const SyncBarQuery *q, json_object *array,
					 SyncTradeElementFn fn, const char *what)
{
	size_t		n = sync_json_length(array);

	for (size_t i = 0; i < n; i++)
		sync_page_add_trade(page, q, sync_json_at(array, i), fn, what);
}

/* One trade, likewise. */
void
sync_page_add_trade(SyncPage *page, const SyncBarQuery *q, json_object *e,
					SyncTradeElementFn fn, const char *what)
{
	const char *why;

	page->nreceived++;
	if (page->ntrades >= page->trade_capacity)
	{
		char		reason[SYNC_REASON_LEN];

		snprintf(reason, sizeof(reason), "more %s than the page size asked for", what);
		sync_page_reject_json(page, reason, e);
		return;
	}
	why = fn(e, &page->trades[page->ntrades]);
	if (why != NULL)
		sync_page_reject_json(page, why, e);
	else
		accept_trade(page, q, NULL, e);
}

/*
 * The series of a stream set that a message of symbol (as the provider
 * spells it, in any case) and kind belongs to; NULL when none: a series
 * not asked for, or bars of another interval.
 */
SyncStreamTarget *
sync_stream_target(SyncStreamSet *set, const char *symbol, bool trades, int64_t interval_ms)
{
	if (symbol == NULL)
		return NULL;
	for (int i = 0; i < set->ntargets; i++)
	{
		SyncStreamTarget *t = &set->targets[i];

		if (t->trades == trades && strcasecmp(t->q->symbol, symbol) == 0 &&
			(trades || t->q->interval_ms == interval_ms))
			return t;
	}
	return NULL;
}

/* The provider confirmed the subscription of symbol's trades (or bars). */
void
sync_stream_confirm(SyncStreamSet *set, const char *symbol, bool trades)
{
	if (symbol == NULL)
		return;
	for (int i = 0; i < set->ntargets; i++)
		if (set->targets[i].trades == trades && strcasecmp(set->targets[i].q->symbol, symbol) == 0)
			set->targets[i].subscribed = true;
}

bool
sync_stream_all_confirmed(const SyncStreamSet *set)
{
	for (int i = 0; i < set->ntargets; i++)
		if (!set->targets[i].subscribed)
			return false;
	return true;
}

/* Stamp what the page gained since (nbars, ntrades, nrejects) with series t. */
static void
stamp_target(SyncStreamSet *set, const SyncStreamTarget *t, int nb, int nt, int nr)
{
	int32_t		idx = (int32_t) (t - set->targets);

	for (int i = nb; i < set->page->nbars; i++)
		set->page->bars[i].target = idx;
	for (int i = nt; i < set->page->ntrades; i++)
		set->page->trades[i].target = idx;
	for (int i = nr; i < set->page->nrejects; i++)
		set->page->rejects[i].target = idx;
}

void
sync_stream_add_bar(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
					SyncBarElementFn fn, const char *what)
{
	int			nb = set->page->nbars;
	int			nr = set->page->nrejects;
	int64_t		prev = INT64_MIN;

	sync_page_add_bar(set->page, t->q, e, fn, what, &prev);
	stamp_target(set, t, nb, set->page->ntrades, nr);
}

void
sync_stream_add_trade(SyncStreamSet *set, const SyncStreamTarget *t, json_object *e,
					  SyncTradeElementFn fn, const char *what)
{
	int			nt = set->page->ntrades;
	int			nr = set->page->nrejects;

	sync_page_add_trade(set->page, t->q, e, fn, what);
	stamp_target(set, t, set->page->nbars, nt, nr);
}

/*
 * Refuse an element of a stream message that is no record of any series
 * (its type or symbol is not a string): counted as received, kept with its
 * text under the set's first series.
 */
void
sync_stream_reject(SyncStreamSet *set, const char *reason, json_object *e)
{
	set->page->nreceived++;
	sync_page_reject_json(set->page, reason, e);
}

/*
 * A stream message's array of records must fit the room its page has
 * (the streamer leaves room for a large message before each); false, with
 * errbuf saying so, for one that holds more: refused whole before walking.
 */
bool
sync_stream_array_fits(const SyncStreamSet *set, json_object *array, const char *who,
					   char *errbuf, size_t errlen)
{
	const SyncPage *page = set->page;
	size_t		n = sync_json_length(array);
	int64_t		room = (int64_t) (page->trade_capacity - page->ntrades) +
		(page->bar_capacity - page->nbars);

	if (room < 0)
		room = 0;
	if (n <= (size_t) room)
		return true;
	snprintf(errbuf, errlen, "%s holds %zu elements, more than the %" PRId64 " records its batch has room for",
			 who, n, room);
	return false;
}

/*
 * The stream URL of providers whose endpoint is given whole (the feed or
 * cluster in its path) and that stream 1-minute bars only; false, saying
 * so in who's words, for a set with bars of another interval.
 */
bool
sync_stream_url_as_given(const SyncStreamSet *set, const char *root, char *url, size_t urllen,
						 char *errbuf, size_t errlen, const char *who)
{
	for (int i = 0; i < set->ntargets; i++)
		if (!set->targets[i].trades && set->targets[i].q->interval_ms != 60000)
		{
			snprintf(errbuf, errlen, "%s streams 1-minute bars only", who);
			return false;
		}
	if (snprintf(url, urllen, "%s", root) >= (int) urllen)
	{
		snprintf(errbuf, errlen, "stream URL longer than %zu bytes", urllen);
		return false;
	}
	return true;
}


/*
 * Multi-symbol answers (provider_multi.h): records routed by symbol to the
 * series of a SyncMultiQuery.
 */

static int
multi_symbol_cmp(const void *a, const void *b)
{
	const SyncMultiSymbol *x = a;
	const SyncMultiSymbol *y = b;
	int			c = strcasecmp(x->symbol, y->symbol);

	return c != 0 ? c : strcmp(x->symbol, y->symbol);
}

/*
 * Start the parse of an answer to mq into page: the series indexed by
 * symbol (an answer of Polygon's holds every ticker of the market, so a
 * look-up must not walk the set).  false, errbuf set, for a set that is
 * no set (no series, a series without a symbol) or when memory runs out.
 */
bool
sync_multi_begin(SyncMulti *m, const SyncMultiQuery *mq, SyncPage *page, int64_t window_from,
				 const char *who, char *errbuf, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	page->has_more = false;
	if (mq == NULL || mq->series == NULL || mq->nseries <= 0)
	{
		snprintf(errbuf, errlen, "%s multi-symbol answer parsed for no series", who);
		return false;
	}
	for (int i = 0; i < mq->nseries; i++)
		if (mq->series[i] == NULL || mq->series[i]->symbol == NULL)
		{
			snprintf(errbuf, errlen, "%s multi-symbol query: series %d has no symbol", who, i);
			return false;
		}
	m->mq = mq;
	m->page = page;
	m->window_from = window_from;
	m->by_symbol = malloc(sizeof(SyncMultiSymbol) * mq->nseries);
	m->prev = malloc(sizeof(int64_t) * mq->nseries);
	m->answered = calloc(mq->nseries, sizeof(bool));
	if (m->by_symbol == NULL || m->prev == NULL || m->answered == NULL)
	{
		sync_multi_end(m);
		snprintf(errbuf, errlen, "out of memory parsing a %s multi-symbol answer", who);
		return false;
	}
	for (int i = 0; i < mq->nseries; i++)
	{
		m->by_symbol[i].symbol = mq->series[i]->symbol;
		m->by_symbol[i].series = i;
		m->prev[i] = INT64_MIN;
	}
	qsort(m->by_symbol, mq->nseries, sizeof(SyncMultiSymbol), multi_symbol_cmp);
	return true;
}

void
sync_multi_end(SyncMulti *m)
{
	free(m->by_symbol);
	free(m->prev);
	free(m->answered);
	m->by_symbol = NULL;
	m->prev = NULL;
	m->answered = NULL;
}

/*
 * The series of symbol, as the provider spells it (in any case, as a
 * stream's are matched; the one spelled exactly so when two differ only
 * in case), or -1 when none of the set has it.
 */
int
sync_multi_series(const SyncMulti *m, const char *symbol)
{
	int			lo = 0,
				hi = m->mq->nseries;

	if (symbol == NULL)
		return -1;
	/* the first whose symbol is not below it, in any case */
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (strcasecmp(m->by_symbol[mid].symbol, symbol) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (int i = lo; i < m->mq->nseries && strcasecmp(m->by_symbol[i].symbol, symbol) == 0; i++)
		if (strcmp(m->by_symbol[i].symbol, symbol) == 0)
			return m->by_symbol[i].series;
	return lo < m->mq->nseries && strcasecmp(m->by_symbol[lo].symbol, symbol) == 0 ?
		m->by_symbol[lo].series : -1;
}

/* What a multi answer asked for: the query's limit, or the page's room if larger. */
int64_t
sync_multi_asked(const SyncMulti *m, bool trades)
{
	const SyncPage *page = m->page;
	int64_t		room = trades ? page->trade_capacity - page->ntrades : page->bar_capacity - page->nbars;

	return m->mq->limit > room ? m->mq->limit : room;
}

/* Stamp what the page gained since (nb, nt, nr) with series i. */
static void
multi_stamp(SyncPage *page, int i, int nb, int nt, int nr)
{
	for (int k = nb; k < page->nbars; k++)
		page->bars[k].target = i;
	for (int k = nt; k < page->ntrades; k++)
		page->trades[k].target = i;
	for (int k = nr; k < page->nrejects; k++)
		page->rejects[k].target = i;
}

/*
 * A record at ms inside the request's window but outside its series' own
 * range: asked for by another series of the set, not refused.
 */
static bool
multi_not_asked(const SyncMulti *m, const SyncBarQuery *q, int64_t ms)
{
	return ms >= m->window_from && ms < m->mq->to_ms && (ms < q->from_ms || ms >= q->to_ms);
}

/* refuse e, a record past the page's room, saying what it was */
static void
multi_reject_full(SyncPage *page, const char *what, json_object *e)
{
	char		reason[SYNC_REASON_LEN];

	snprintf(reason, sizeof(reason), "more %s than the page size asked for", what);
	sync_page_reject_json(page, reason, e);
}

/* One bar of series i through fn, then validation against that series' query. */
void
sync_multi_add_bar(SyncMulti *m, int i, json_object *e, SyncBarElementFn fn, const char *what)
{
	SyncPage   *page = m->page;
	const SyncBarQuery *q = m->mq->series[i];
	int			nb = page->nbars;
	int			nr = page->nrejects;

	page->nreceived++;
	if (page->nbars >= page->bar_capacity)
		multi_reject_full(page, what, e);
	else
	{
		SyncBar    *bar = &page->bars[page->nbars];
		const char *why;

		bar->ts_ms = INT64_MIN;
		if ((why = fn(e, bar)) != NULL)
			sync_page_reject_json(page, why, e);
		else if (!multi_not_asked(m, q, bar->ts_ms))
			accept_bar(page, q, &m->prev[i], NULL, e);
	}
	multi_stamp(page, i, nb, page->ntrades, nr);
}

/* One trade of series i, likewise. */
void
sync_multi_add_trade(SyncMulti *m, int i, json_object *e, SyncTradeElementFn fn, const char *what)
{
	SyncPage   *page = m->page;
	const SyncBarQuery *q = m->mq->series[i];
	int			nt = page->ntrades;
	int			nr = page->nrejects;

	page->nreceived++;
	if (page->ntrades >= page->trade_capacity)
		multi_reject_full(page, what, e);
	else
	{
		SyncTrade  *t = &page->trades[page->ntrades];
		const char *why;

		if ((why = fn(e, t)) != NULL)
			sync_page_reject_json(page, why, e);
		else if (!multi_not_asked(m, q, sync_ms_of_us(t->ts_us)))
			accept_trade(page, q, NULL, e);
	}
	multi_stamp(page, i, page->nbars, nt, nr);
}

/* Refuse e as a record of series i (0 when it names no symbol of the set). */
void
sync_multi_reject(SyncMulti *m, int i, const char *reason, json_object *e)
{
	int			nr = m->page->nrejects;

	m->page->nreceived++;
	sync_page_reject_json(m->page, reason, e);
	multi_stamp(m->page, i, m->page->nbars, m->page->ntrades, nr);
}

/*
 * The members of o, {"SYMBOL": [records...] | null, ...}, each set
 * symbol's records to its series (the others are ignored).  Looked over
 * whole first: more elements in all than twice what was asked is no
 * answer to our request (TOO_MANY, *nelements saying how many), and a set
 * symbol whose member is neither an array nor null could hide its records
 * (NOT_ARRAY, *bad_symbol naming it): nothing is added then.  A series
 * whose symbol is a member twice (in two spellings) has the second
 * member's records refused: one answer holds a symbol once.
 */
SyncMultiMembers
sync_multi_add_members(SyncMulti *m, json_object *o, bool trades, SyncBarElementFn bar_fn,
					   SyncTradeElementFn trade_fn, const char *what, const char **bad_symbol,
					   size_t *nelements)
{
	int64_t		asked = sync_multi_asked(m, trades);
	int64_t		most = asked > 0 ? (asked > INT32_MAX ? INT32_MAX : asked) * 2 : 0;

	*nelements = 0;
	*bad_symbol = NULL;
	if (!json_object_is_type(o, json_type_object))
		return SYNC_MULTI_MEMBERS_OK;
	{
		json_object_object_foreach(o, key, v)
		{
			if (json_object_is_type(v, json_type_array))
				*nelements += json_object_array_length(v);
			else if (v != NULL && sync_multi_series(m, key) >= 0)
			{
				*bad_symbol = key;
				return SYNC_MULTI_MEMBERS_NOT_ARRAY;
			}
		}
	}
	if (*nelements > (size_t) most)
		return SYNC_MULTI_MEMBERS_TOO_MANY;
	{
		json_object_object_foreach(o, key, v)
		{
			int			i = sync_multi_series(m, key);
			bool		again;

			if (i < 0 || v == NULL)
				continue;
			again = m->answered[i];
			m->answered[i] = true;
			for (size_t k = 0; k < json_object_array_length(v); k++)
			{
				json_object *e = json_object_array_get_idx(v, k);

				if (again)
					sync_multi_reject(m, i, "the symbol's records came twice in one answer", e);
				else if (trades)
					sync_multi_add_trade(m, i, e, trade_fn, what);
				else
					sync_multi_add_bar(m, i, e, bar_fn, what);
			}
		}
	}
	return SYNC_MULTI_MEMBERS_OK;
}
