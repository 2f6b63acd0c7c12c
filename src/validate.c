/*-------------------------------------------------------------------------
 * validate.c
 *	  Decides whether a parsed bar may be stored, and if not, says why in
 *	  words that end up in sync.rejects.reason.
 *
 * Providers call this for every record while they still hold its raw
 * payload, so a refused record is kept with exactly what was received.
 *-------------------------------------------------------------------------
 */
#include <stddef.h>

#include "decimal.h"
#include "providers/timefmt.h"
#include "validate.h"

/*
 * NULL when the bar is good, else the reason.  prev_ts_ms is the open time
 * of the previous accepted bar of the page (INT64_MIN for none): pages come
 * in ascending time, so anything not after it is a duplicate.
 */
const char *
sync_validate_bar(const SyncBar *b, const SyncBarQuery *q, int64_t prev_ts_ms)
{
	if (!sync_decimal_valid(b->open) || !sync_decimal_valid(b->high) ||
		!sync_decimal_valid(b->low) || !sync_decimal_valid(b->close))
		return "price is not a decimal number";
	if (!sync_decimal_valid(b->volume))
		return "volume is not a decimal number";
	if (b->vwap[0] != '\0' && !sync_decimal_valid(b->vwap))
		return "vwap is not a decimal number";
	if (sync_decimal_negative(b->low))
		return "negative price";
	if (sync_decimal_cmp(b->low, b->high) > 0)
		return "OHLC inconsistent: low > high";
	if (sync_decimal_cmp(b->open, b->low) < 0 || sync_decimal_cmp(b->open, b->high) > 0)
		return "OHLC inconsistent: open outside [low, high]";
	if (sync_decimal_cmp(b->close, b->low) < 0 || sync_decimal_cmp(b->close, b->high) > 0)
		return "OHLC inconsistent: close outside [low, high]";
	if (sync_decimal_negative(b->volume))
		return "negative volume";
	if (q->interval_ms > 0 && q->interval_ms <= 86400000 && b->ts_ms % q->interval_ms != 0)
		return "timestamp not aligned to the bar interval";
	if (b->ts_ms < q->from_ms || b->ts_ms >= q->to_ms)
		return "timestamp outside the requested range";
	if (b->ts_ms <= prev_ts_ms)
		return "duplicate or out-of-order bar in page";
	return NULL;
}

/* NULL when the trade is good, else the reason. */
const char *
sync_validate_trade(const SyncTrade *t, const SyncBarQuery *q)
{
	if (t->trade_id[0] == '\0')
		return "trade without an id";
	if (!sync_decimal_valid(t->price))
		return "price is not a decimal number";
	if (!sync_decimal_valid(t->size))
		return "size is not a decimal number";
	if (sync_decimal_negative(t->price))
		return "negative price";
	if (sync_decimal_negative(t->size))
		return "negative size";
	if (sync_ms_of_us(t->ts_us) < q->from_ms || sync_ms_of_us(t->ts_us) >= q->to_ms)
		return "timestamp outside the requested range";
	return NULL;
}
