/*-------------------------------------------------------------------------
 * timefmt.c
 *	  UTC time text in the forms providers use: RFC 3339 (Alpaca, Coinbase)
 *	  and plain dates (file names of binance-public-data), to and from
 *	  milliseconds since the Unix epoch.
 *
 * Plain C on purpose (providers never call into PostgreSQL): the civil
 * calendar conversion is Howard Hinnant's days-from-civil algorithm, which
 * is exact for the proleptic Gregorian calendar.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* "2021-02-01T16:01:00Z", with optional fraction and numeric offset. */
bool
sync_parse_rfc3339(const char *s, int64_t *ms)
{
	int			y,
				mo,
				d,
				h,
				mi,
				sec,
				n = 0;
	int64_t		frac_ms = 0;
	const char *p;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n == 0)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	p = s + n;
	if (*p == '.')
	{
		int			scale = 100;

		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			frac_ms += (*p - '0') * scale;
			scale /= 10;
		}
	}
	*ms = (days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000 + frac_ms;
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	if (*p == '+' || *p == '-')
	{
		int			oh,
					om;

		if (sscanf(p + 1, "%2d:%2d", &oh, &om) != 2 || strlen(p) != 6)
			return false;
		*ms -= (int64_t) (*p == '+' ? 1 : -1) * (oh * 3600 + om * 60) * 1000;
		return true;
	}
	return false;
}

void
sync_format_rfc3339(int64_t ms, char *buf, size_t len)
{
	int64_t		secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t		days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t		rem = secs - days * 86400;
	int			frac = (int) (ms - secs * 1000);
	int			y,
				m,
				d;

	civil_from_days(days, &y, &m, &d);
	if (frac == 0)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
				 (int) (rem / 3600), (int) (rem % 3600 / 60), (int) (rem % 60));
	else
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d,
				 (int) (rem / 3600), (int) (rem % 3600 / 60), (int) (rem % 60), frac);
}

void
sync_format_date(int64_t ms, char *buf, size_t len)
{
	int64_t		days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
	int			y,
				m,
				d;

	civil_from_days(days, &y, &m, &d);
	snprintf(buf, len, "%04d-%02d-%02d", y, m, d);
}
