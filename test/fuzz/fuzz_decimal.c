// fuzz-sources: src/providers/*.c src/decimal.c src/validate.c
// fuzz-libs: json-c libcurl
/*-------------------------------------------------------------------------
 * fuzz_decimal.c
 *	  libFuzzer target: decimal text (src/decimal.c) and the copy every
 *	  parser makes of it (sync_copy_decimal).
 *
 * The body holds two strings separated by a NUL byte.  Besides not
 * crashing, comparison must be a consistent order on valid decimals, and
 * an exponent form that expands must expand into a valid decimal that
 * fits the buffer (h[0] picks the buffer's size).
 *-------------------------------------------------------------------------
 */
#include "decimal.h"
#include "fuzz_common.h"

static int
sign(int v)
{
	return (v > 0) - (v < 0);
}

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzInput	in;
	const char *a;
	const char *b;
	size_t		outlen;
	char	   *out;
	char		copy[SYNC_NUM_LEN];

	fuzz_input(&in, data, size);
	a = in.body;
	b = strlen(a) < in.len ? a + strlen(a) + 1 : "";
	outlen = 1 + in.h[0] % 64;
	out = malloc(outlen);

	if (sync_decimal_valid(a))
	{
		(void) sync_decimal_negative(a);
		if (sync_decimal_cmp(a, a) != 0)
			abort();
		if (sync_decimal_valid(b) &&
			sign(sync_decimal_cmp(a, b)) != -sign(sync_decimal_cmp(b, a)))
			abort();
	}
	if (sync_decimal_expand(a, out, outlen))
	{
		if (memchr(out, '\0', outlen) == NULL || !sync_decimal_valid(out))
			abort();
	}
	if (sync_copy_decimal(copy, a) && memchr(copy, '\0', sizeof(copy)) == NULL)
		abort();
	free(out);
	fuzz_input_free(&in);
	return 0;
}
