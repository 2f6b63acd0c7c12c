// fuzz-sources: src/providers/*.c src/decimal.c src/validate.c
// fuzz-libs: json-c libcurl
/*-------------------------------------------------------------------------
 * fuzz_validate.c
 *	  libFuzzer target: the checks every record passes before storage
 *	  (src/validate.c), and the JSON a refused bar is kept as.
 *
 * The body is text fields separated by commas (open, high, low, close,
 * volume, vwap of a bar; id, price, size of a trade: h[0] & 1 says
 * which), then a NUL byte, then raw bytes laid over the rest of the
 * record (its time, counts and series, whatever they are named) and the
 * previous bar's time.  The query comes from the header as in the
 * provider targets.  A record that passes must hold valid decimals.
 *-------------------------------------------------------------------------
 */
#include "decimal.h"
#include "fuzz_common.h"
#include "validate.h"

/* The next comma-separated field of *p into dst[SYNC_NUM_LEN]. */
static void
next_field(const char **p, char *dst)
{
	const char *comma = strchr(*p, ',');
	size_t		n = comma ? (size_t) (comma - *p) : strlen(*p);

	snprintf(dst, SYNC_NUM_LEN, "%.*s", (int) n, *p);
	*p += comma ? n + 1 : n;
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in;
	SyncBarQuery q;
	const char *text;
	const char *raw;
	size_t		rawlen;
	int64_t		prev = INT64_MIN;
	size_t		jsonlen;
	char	   *json;

	fuzz_input(&in, data, size);
	fuzz_query(&q, &in, "S");
	text = in.body;
	raw = in.body + strlen(in.body) + (strlen(in.body) < in.len ? 1 : 0);
	rawlen = in.body + in.len - raw;
	jsonlen = 1 + in.h[5] % 512;
	json = malloc(jsonlen);

	if ((in.h[0] & 1) == 0)
	{
		SyncBar		bar;
		const char *why;

		memset(&bar, 0, sizeof(bar));
		memcpy(&bar, raw, rawlen < sizeof(bar) ? rawlen : sizeof(bar));
		if (rawlen >= sizeof(bar) + sizeof(prev))
			memcpy(&prev, raw + sizeof(bar), sizeof(prev));
		next_field(&text, bar.open);
		next_field(&text, bar.high);
		next_field(&text, bar.low);
		next_field(&text, bar.close);
		next_field(&text, bar.volume);
		next_field(&text, bar.vwap);
		why = sync_validate_bar(&bar, &q, prev);
		if (why == NULL && (!sync_decimal_valid(bar.open) || !sync_decimal_valid(bar.high) ||
							!sync_decimal_valid(bar.low) || !sync_decimal_valid(bar.close) ||
							!sync_decimal_valid(bar.volume)))
			abort();
		sync_bar_to_json(&bar, json, jsonlen);
		if (memchr(json, '\0', jsonlen) == NULL)
			abort();
	}
	else
	{
		SyncTrade	trade;
		const char *why;

		memset(&trade, 0, sizeof(trade));
		memcpy(&trade, raw, rawlen < sizeof(trade) ? rawlen : sizeof(trade));
		next_field(&text, trade.trade_id);
		next_field(&text, trade.price);
		next_field(&text, trade.size);
		why = sync_validate_trade(&trade, &q);
		if (why == NULL && (!sync_decimal_valid(trade.price) || !sync_decimal_valid(trade.size)))
			abort();
	}
	free(json);
	fuzz_input_free(&in);
	return 0;
}
