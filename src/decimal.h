/*-------------------------------------------------------------------------
 * decimal.h
 *	  Checks and comparisons on decimal text, without converting it to
 *	  floating point (which would change the provider's exact values).
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_DECIMAL_H
#define SYNC_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>

extern bool sync_decimal_valid(const char *s);
extern int	sync_decimal_cmp(const char *a, const char *b);
extern bool sync_decimal_negative(const char *s);
extern bool sync_decimal_expand(const char *in, char *out, size_t outlen);

#endif							/* SYNC_DECIMAL_H */
