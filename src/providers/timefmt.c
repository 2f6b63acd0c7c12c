/*-------------------------------------------------------------------------
 * timefmt.c
 *	  UTC time text in the forms providers use: RFC 3339 (Alpaca, Coinbase)
 *	  and plain dates (file names of binance-public-data), to and from
 *	  microseconds (dates: milliseconds) since the Unix epoch.
 *
 * Plain C on purpose (providers never call into PostgreSQL): the civil
 * calendar conversion is Howard Hinnant's days-from-civil algorithm, which
 * is exact for the proleptic Gregorian calendar.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>

#include "timefmt.h"

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe,
				doy,
				doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned) (y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t) doe - 719468;
}

static void
civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t		era;
	unsigned	doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned) (z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = (int) (yoe + era * 400 + (*m <= 2));
}

/* n decimal digits at s (no sign, no spaces); false if any is not one. */
static bool
parse_digits(const char *s, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/*
 * "2021-02-01T16:01:00Z", with an optional fraction (any number of
 * digits: nanoseconds are cut to the microsecond, as timestamptz keeps)
 * and a numeric offset "+hh:mm".  Strict: the date must exist (no
 * 2021-02-30), every field has its exact number of digits, nothing
 * follows.  A leap second (:60) is the first instant of the next minute,
 * as PostgreSQL reads it.
 */
bool
sync_parse_rfc3339(const char *s, int64_t *us)
{
	int			y,
				mo,
				d,
				h,
				mi,
				sec;
	int64_t		frac_us = 0;
	int64_t		t;
	const char *p;

	if (!parse_digits(s, 4, &y) || s[4] != '-' || !parse_digits(s + 5, 2, &mo) || s[7] != '-' ||
		!parse_digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
		!parse_digits(s + 11, 2, &h) || s[13] != ':' || !parse_digits(s + 14, 2, &mi) ||
		s[16] != ':' || !parse_digits(s + 17, 2, &sec))
		return false;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
		h > 23 || mi > 59 || sec > 60)
		return false;
	p = s + 19;
	if (*p == '.')
	{
		int			scale = 100000;

		if (p[1] < '0' || p[1] > '9')
			return false;
		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			frac_us += (*p - '0') * scale;
			scale /= 10;
		}
	}
	t = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000000 + frac_us;
	if (*p == 'Z' || *p == 'z')
	{
		if (p[1] != '\0')
			return false;
	}
	else if (*p == '+' || *p == '-')
	{
		int			oh,
					om;

		if (!parse_digits(p + 1, 2, &oh) || p[3] != ':' || !parse_digits(p + 4, 2, &om) ||
			p[6] != '\0' || oh > 23 || om > 59)
			return false;
		t -= (int64_t) (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60) * 1000000;
	}
	else
		return false;
	if (t < SYNC_MIN_US || t > SYNC_MAX_US)
		return false;
	*us = t;
	return true;
}

/*
 * RFC 3339 in UTC with as many fraction digits as the time needs: none,
 * 3 (ms) or 6 (us).  Times outside the accepted range are clamped to it,
 * so the arithmetic cannot overflow (no caller passes one).
 */
void
sync_format_rfc3339(int64_t us, char *buf, size_t len)
{
	int64_t		t = us < SYNC_MIN_US ? SYNC_MIN_US : us > SYNC_MAX_US ? SYNC_MAX_US : us;
	int64_t		secs = t / 1000000 - (t % 1000000 < 0);
	int64_t		days = secs / 86400 - (secs % 86400 < 0);
	int64_t		rem = secs - days * 86400;
	int			frac = (int) (t - secs * 1000000);
	int			y,
				m,
				d;

	civil_from_days(days, &y, &m, &d);
	if (frac == 0)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
				 (int) (rem / 3600), (int) (rem % 3600 / 60), (int) (rem % 60));
	else if (frac % 1000 == 0)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
				 (int) (rem / 3600), (int) (rem % 3600 / 60), (int) (rem % 60), frac / 1000);
	else
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", y, m, d,
				 (int) (rem / 3600), (int) (rem % 3600 / 60), (int) (rem % 60), frac);
}

void
sync_format_date(int64_t ms, char *buf, size_t len)
{
	int64_t		t = ms < SYNC_MIN_MS ? SYNC_MIN_MS : ms > SYNC_MAX_MS ? SYNC_MAX_MS : ms;
	int64_t		days = t / 86400000 - (t % 86400000 < 0);
	int			y,
				m,
				d;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}
