/*-------------------------------------------------------------------------
 * timefmt.h
 *	  UTC time text to and from microseconds since the Unix epoch
 *	  (timefmt.c), and the conversions between the units sync uses.
 *	  Free of json-c so PostgreSQL-side code may include it too.
 *
 * Trades keep their time to the microsecond (what timestamptz holds);
 * bars, windows and checkpoints are whole milliseconds.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_TIMEFMT_H
#define SYNC_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The times sync accepts from a provider: 0001-01-01 to 9999-12-31 UTC,
 * inside what timestamptz holds, so a time that passes never makes a
 * page's COPY fail, and its arithmetic never overflows.
 */
#define SYNC_MIN_US		(-62135596800LL * 1000000)
#define SYNC_MAX_US		(253402300800LL * 1000000 - 1)
#define SYNC_MIN_MS		(SYNC_MIN_US / 1000)
#define SYNC_MAX_MS		(SYNC_MAX_US / 1000)

extern bool sync_parse_rfc3339(const char *s, int64_t *us);
extern void sync_format_rfc3339(int64_t us, char *buf, size_t len);
extern void sync_format_date(int64_t ms, char *buf, size_t len);

/* ms to us; false when outside the accepted range (no overflow). */
static inline bool
sync_us_from_ms(int64_t ms, int64_t *us)
{
	if (ms < SYNC_MIN_MS || ms > SYNC_MAX_MS)
		return false;
	*us = ms * 1000;
	return true;
}

/* The millisecond a time falls in (rounding down, also before 1970). */
static inline int64_t
sync_ms_of_us(int64_t us)
{
	return us / 1000 - (us % 1000 < 0);
}

#endif							/* SYNC_TIMEFMT_H */
