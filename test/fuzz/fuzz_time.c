// fuzz-sources: src/providers/timefmt.c
// fuzz-libs:
/*-------------------------------------------------------------------------
 * fuzz_time.c
 *	  libFuzzer target: RFC 3339 time text (src/providers/timefmt.c),
 *	  parsed and formatted back.
 *
 * The body is time text: whatever parses to a time in years 1 to 9999
 * must format to text that parses back to the same time.  The header
 * read as a 64-bit integer is a time to format (any value: a provider's
 * number may be anything) into a buffer of h[0] % 48 bytes, and, in
 * that range, to parse back the same.
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

/* years 0001 to 9999 in the time fields' unit */
#define FUZZ_TIME_MIN (-62135596800000LL * FUZZ_PER_MS)
#define FUZZ_TIME_MAX (253402300799999LL * FUZZ_PER_MS)

static void
round_trip(int64_t t)
{
	char		buf[64];
	int64_t		back;

	if (t < FUZZ_TIME_MIN || t > FUZZ_TIME_MAX)
		return;
	sync_format_rfc3339(t, buf, sizeof(buf));
	if (!sync_parse_rfc3339(buf, &back) || back != t)
	{
		fprintf(stderr, "round trip: %lld -> \"%s\" -> %lld\n", (long long) t, buf, (long long) back);
		abort();
	}
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in;
	int64_t		t;
	size_t		len;
	char	   *buf;

	fuzz_input(&in, data, size);
	if (sync_parse_rfc3339(in.body, &t))
		round_trip(t);

	memcpy(&t, in.h, sizeof(t));
	len = in.h[0] % 48;
	buf = malloc(len + 1);
	sync_format_rfc3339(t, buf, len);
	if (len > 0 && memchr(buf, '\0', len) == NULL)
		abort();
	sync_format_date(t, buf, len);
	if (len > 0 && memchr(buf, '\0', len) == NULL)
		abort();
	round_trip(t);
	free(buf);
	fuzz_input_free(&in);
	return 0;
}
