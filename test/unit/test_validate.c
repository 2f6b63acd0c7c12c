// unit-sources: src/validate.c src/decimal.c src/providers/timefmt.c
// unit-libs:
/*-------------------------------------------------------------------------
 * test_validate.c
 *	  Unit tests of what text and times may reach the database
 *	  (src/validate.c): UTF-8 as PostgreSQL accepts it, control characters
 *	  refused, refused bytes escaped as \xNN without ever cutting an escape
 *	  or a character, and records with times outside what timestamptz
 *	  holds refused before they reach a COPY.  Prints TAP.
 *-------------------------------------------------------------------------
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/timefmt.h"
#include "validate.h"

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

static int
valid(const char *s)
{
	return sync_text_valid(s, strlen(s));
}

static void
escapes_to(const char *in, size_t outlen, int ascii, const char *want, int want_clean, const char *name)
{
	char		out[256];
	int			clean = sync_text_escape(in, out, outlen, ascii);

	ok(strcmp(out, want) == 0 && clean == want_clean, name);
	if (strcmp(out, want) != 0)
		printf("#   got: '%s'\n#   expected: '%s'\n", out, want);
}

static void
test_utf8(void)
{
	ok(valid("") && valid("BTCUSDT") && valid("tab\there"), "ASCII text is valid");
	ok(valid("caf\xc3\xa9") && valid("\xe2\x82\xac") && valid("\xf0\x9f\x98\x80") && valid("\xf4\x8f\xbf\xbf"),
	   "2, 3 and 4 byte sequences up to U+10FFFF are valid");
	ok(!valid("\xff") && !valid("\xfe\xff") && !valid("\x80") && !valid("a\xbf"),
	   "bytes that start no sequence are refused");
	ok(!valid("\xc0\x80") && !valid("\xc1\xbf") && !valid("\xe0\x80\x80") && !valid("\xf0\x80\x80\x80"),
	   "overlong forms are refused");
	ok(!valid("\xed\xa0\x80") && !valid("\xed\xbf\xbf"), "surrogates are refused");
	ok(!valid("\xf4\x90\x80\x80") && !valid("\xf5\x80\x80\x80"), "code points above U+10FFFF are refused");
	ok(!valid("\xc3") && !valid("\xe2\x82") && !valid("\xf0\x9f\x98") && !valid("\xe2\x82x"),
	   "cut or broken sequences are refused");
	ok(!valid("a\x01") && !valid("\x1b[31m") && !valid("x\x7f") && !valid("line\nbreak"),
	   "control characters are refused");
	ok(!sync_text_valid("a\0b", 3), "a NUL inside the text is refused");
}

static void
test_escape(void)
{
	escapes_to("plain caf\xc3\xa9", 64, 0, "plain caf\xc3\xa9", 1, "valid text is copied as it is");
	escapes_to("a\xff" "b", 64, 0, "a\\xFFb", 0, "an invalid byte becomes \\xNN");
	escapes_to("\xc3(", 64, 0, "\\xC3(", 0, "a cut sequence: its lead byte escaped, the rest kept");
	escapes_to("\xed\xa0\x80", 64, 0, "\\xED\\xA0\\x80", 0, "a surrogate is escaped byte by byte");
	escapes_to("bell\x07\r\n", 64, 0, "bell\\x07\\x0D\\x0A", 0, "control characters are escaped");
	escapes_to("caf\xc3\xa9", 64, 1, "caf\\xC3\\xA9", 0, "for a database not in UTF-8, every non-ASCII byte");
	escapes_to("ab\xff", 6, 0, "ab", 0, "an escape that does not fit is left out whole");
	escapes_to("a\xe2\x82\xac", 4, 0, "a", 0, "a character that does not fit is left out whole");
	escapes_to("abcdef", 4, 0, "abc", 0, "longer text is cut and says so");

	{
		char		out[64];
		unsigned char all[256];

		for (int i = 0; i < 255; i++)
			all[i] = (unsigned char) (i + 1);
		all[255] = 0;
		for (size_t len = 1; len < sizeof(out); len++)
		{
			sync_text_escape((const char *) all, out, len, 0);
			if (strlen(out) >= len || !valid(out))
				break;
			if (len == sizeof(out) - 1)
				ok(1, "every escaped prefix of every byte value is valid text");
		}
		if (strlen(out) >= sizeof(out) - 1 || !valid(out))
			ok(0, "every escaped prefix of every byte value is valid text");
	}
}

static void
test_records(void)
{
	SyncBarQuery q;
	SyncTrade	t;
	SyncBar		b;

	memset(&q, 0, sizeof(q));
	q.interval_ms = 60000;
	q.from_ms = INT64_MIN;
	q.to_ms = INT64_MAX;			/* a stream takes any time */
	memset(&t, 0, sizeof(t));
	strcpy(t.trade_id, "1");
	strcpy(t.price, "1.5");
	strcpy(t.size, "2");
	t.ts_us = 1637971200000000LL;
	ok(sync_validate_trade(&t, &q) == NULL, "a good trade passes");
	strcpy(t.trade_id, "\xff");
	ok(sync_validate_trade(&t, &q) != NULL, "a trade id that is not UTF-8 is refused");
	strcpy(t.trade_id, "1\t2");
	ok(sync_validate_trade(&t, &q) == NULL, "a tab is text (COPY escapes it)");
	strcpy(t.trade_id, "1\n2");
	ok(sync_validate_trade(&t, &q) != NULL, "a trade id with a line break is refused");
	strcpy(t.trade_id, "1");
	t.ts_us = SYNC_MAX_US + 1;
	ok(sync_validate_trade(&t, &q) != NULL, "a trade after 9999-12-31 is refused");
	t.ts_us = SYNC_MIN_US - 1;
	ok(sync_validate_trade(&t, &q) != NULL, "a trade before 0001-01-01 is refused");
	t.ts_us = INT64_MIN;
	ok(sync_validate_trade(&t, &q) != NULL, "a trade at INT64_MIN is refused");

	memset(&b, 0, sizeof(b));
	strcpy(b.open, "1");
	strcpy(b.high, "1");
	strcpy(b.low, "1");
	strcpy(b.close, "1");
	strcpy(b.volume, "1");
	b.ts_ms = 1637971200000LL;
	ok(sync_validate_bar(&b, &q, INT64_MIN) == NULL, "a good bar passes");
	b.ts_ms = (SYNC_MAX_MS / 60000 + 1) * 60000;
	ok(sync_validate_bar(&b, &q, INT64_MIN) != NULL, "a bar after 9999-12-31 is refused");
	b.ts_ms = (SYNC_MIN_MS / 60000 - 1) * 60000;
	ok(sync_validate_bar(&b, &q, INT64_MIN) != NULL, "a bar before 0001-01-01 is refused");
}

int
main(void)
{
	test_utf8();
	test_escape();
	test_records();
	printf("1..%d\n", tests);
	return failed > 0;
}
