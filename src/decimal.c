/*-------------------------------------------------------------------------
 * decimal.c
 *	  Syntax check and exact ordering of plain decimal text such as
 *	  "0.00002853" or "-12.5".  Providers send prices as such text; OHLC
 *	  validation compares them here so that no value is ever rounded.
 *
 * Accepted syntax: optional '-', digits, optionally '.' and digits (at
 * least one digit in all).  Exponents are refused: no provider sends them
 * for prices, and numeric's input would accept a form we cannot order.
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

bool
sync_decimal_valid(const char *s)
{
	int			digits = 0;

	if (*s == '-' || *s == '+')
		s++;
	while (*s >= '0' && *s <= '9')
		s++, digits++;
	if (*s == '.')
	{
		s++;
		while (*s >= '0' && *s <= '9')
			s++, digits++;
	}
	return digits > 0 && *s == '\0';
}

/* The integer digits without leading zeros, and the fraction digits. */
static void
decimal_split(const char *s, const char **ip, int *ilen, const char **fp, int *flen)
{
	const char *dot;

	if (*s == '-' || *s == '+')
		s++;
	while (*s == '0')
		s++;
	dot = strchr(s, '.');
	*ip = s;
	*ilen = dot ? (int) (dot - s) : (int) strlen(s);
	*fp = dot ? dot + 1 : s + *ilen;
	*flen = (int) strlen(*fp);
	while (*flen > 0 && (*fp)[*flen - 1] == '0')
		(*flen)--;
}

static bool
decimal_is_zero(const char *s)
{
	for (; *s; s++)
		if (*s >= '1' && *s <= '9')
			return false;
	return true;
}

bool
sync_decimal_negative(const char *s)
{
	return *s == '-' && !decimal_is_zero(s);
}

/* Compare magnitudes of two valid decimals. */
static int
decimal_cmp_abs(const char *a, const char *b)
{
	const char *ai,
			   *af,
			   *bi,
			   *bf;
	int			ail,
				afl,
				bil,
				bfl;
	int			c;

	decimal_split(a, &ai, &ail, &af, &afl);
	decimal_split(b, &bi, &bil, &bf, &bfl);
	if (ail != bil)
		return ail < bil ? -1 : 1;
	c = strncmp(ai, bi, ail);
	if (c != 0)
		return c < 0 ? -1 : 1;
	for (int i = 0; i < afl || i < bfl; i++)
	{
		char		da = i < afl ? af[i] : '0';
		char		db = i < bfl ? bf[i] : '0';

		if (da != db)
			return da < db ? -1 : 1;
	}
	return 0;
}

/* -1, 0 or 1 as a <, = or > b; both must be valid. */
int
sync_decimal_cmp(const char *a, const char *b)
{
	bool		an = sync_decimal_negative(a);
	bool		bn = sync_decimal_negative(b);

	if (an != bn)
		return an ? -1 : 1;
	return an ? -decimal_cmp_abs(a, b) : decimal_cmp_abs(a, b);
}

/*
 * Write "[-]d[.ddd](e|E)[+-]n" as plain decimal text.  False when the input
 * is not of that form or the result does not fit in outlen.
 */
bool
sync_decimal_expand(const char *in, char *out, size_t outlen)
{
	char		digits[64];
	int			ndigits = 0;
	int			point = -1;		/* digits before the decimal point */
	bool		neg = false;
	const char *p = in;
	char	   *end;
	long		exp;
	size_t		o = 0;

	if (*p == '-' || *p == '+')
		neg = (*p++ == '-');
	for (; (*p >= '0' && *p <= '9') || *p == '.'; p++)
	{
		if (*p == '.')
		{
			if (point >= 0)
				return false;
			point = ndigits;
		}
		else if (ndigits < (int) sizeof(digits))
			digits[ndigits++] = *p;
		else
			return false;
	}
	if (ndigits == 0 || (*p != 'e' && *p != 'E'))
		return false;
	exp = strtol(p + 1, &end, 10);
	if (*end != '\0' || end == p + 1 || exp > 40 || exp < -40)
		return false;
	if (point < 0)
		point = ndigits;
	point += (int) exp;			/* digits before the point after shifting */

#define PUT(ch) do { if (o + 1 >= outlen) return false; out[o++] = (ch); } while (0)
	if (neg)
		PUT('-');
	if (point <= 0)
	{
		PUT('0');
		PUT('.');
		for (int i = 0; i < -point; i++)
			PUT('0');
		for (int i = 0; i < ndigits; i++)
			PUT(digits[i]);
	}
	else
	{
		for (int i = 0; i < point; i++)
			PUT(i < ndigits ? digits[i] : '0');
		if (point < ndigits)
		{
			PUT('.');
			for (int i = point; i < ndigits; i++)
				PUT(digits[i]);
		}
	}
#undef PUT
	out[o] = '\0';
	return true;
}
