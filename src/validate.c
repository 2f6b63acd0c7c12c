/*-------------------------------------------------------------------------
 * validate.c
 *	  Decides whether a parsed bar may be stored, and if not, says why in
 *	  words that end up in sync.rejects.reason.
 *
 * Providers call this for every record while they still hold its raw
 * payload, so a refused record is kept with exactly what was received.
 *
 * It also owns what text from a provider may reach the database: valid
 * UTF-8 without control characters.  Text that is not (a payload, an
 * error message) is stored escaped, each refused byte as \xNN, so
 * sync.rejects and last_error always hold text pg_dump can restore.
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

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
	if (b->ts_ms < SYNC_MIN_MS || b->ts_ms > SYNC_MAX_MS)
		return "timestamp out of range";
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
	if (!sync_text_valid(t->trade_id, strlen(t->trade_id)))
		return "trade id is not UTF-8 text without control characters";
	if (t->ts_us < SYNC_MIN_US || t->ts_us > SYNC_MAX_US)
		return "timestamp out of range";
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

/*
 * Length of the valid UTF-8 sequence at s (at most len bytes), 0 if it is
 * not one: no overlong forms, no surrogates, nothing above U+10FFFF
 * (RFC 3629), as PostgreSQL's pg_utf8_islegal() decides.
 */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	size_t		n;
	unsigned char lo = 0x80,
				hi = 0xBF;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		n = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
	{
		n = 3;
		if (s[0] == 0xE0)
			lo = 0xA0;			/* overlong */
		else if (s[0] == 0xED)
			hi = 0x9F;			/* surrogates */
	}
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
	{
		n = 4;
		if (s[0] == 0xF0)
			lo = 0x90;			/* overlong */
		else if (s[0] == 0xF4)
			hi = 0x8F;			/* above U+10FFFF */
	}
	else
		return 0;
	if (len < n || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return n;
}

/* A control character (C0 or DEL); tab is text. */
static bool
is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7F;
}

/*
 * Whether len bytes at s are valid UTF-8 holding no control character
 * (and no NUL): what a trade id, or any text stored as is, must be.
 */
bool
sync_text_valid(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *) s;
	size_t		i = 0;

	while (i < len)
	{
		size_t		n = utf8_seq(u + i, len - i);

		if (n == 0 || (n == 1 && is_control(u[i])))
			return false;
		i += n;
	}
	return true;
}

/*
 * Copy the NUL-terminated text in to out (outlen bytes, NUL-terminated,
 * never cut inside a character or an escape), with every byte that is not
 * part of valid UTF-8, and every control character, written as \xNN.
 * With ascii set, every byte above 0x7F is escaped too (a database whose
 * encoding is not UTF-8).  Returns true when nothing had to be escaped.
 */
bool
sync_text_escape(const char *in, char *out, size_t outlen, bool ascii)
{
	const unsigned char *u = (const unsigned char *) in;
	size_t		len = strlen(in);
	size_t		i = 0;
	size_t		o = 0;
	bool		clean = true;

	if (outlen == 0)
		return false;
	while (i < len)
	{
		size_t		n = utf8_seq(u + i, len - i);

		if (n == 0 || (n == 1 && is_control(u[i])) || (ascii && n > 1))
		{
			clean = false;
			if (o + 4 >= outlen)
				break;
			snprintf(out + o, 5, "\\x%02X", u[i]);
			o += 4;
			i++;
			continue;
		}
		if (o + n >= outlen)
			break;
		memcpy(out + o, u + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return clean && i == len;
}
