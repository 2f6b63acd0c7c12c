/*-------------------------------------------------------------------------
 * validate.h
 *	  Checks a record must pass before it is stored.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_VALIDATE_H
#define SYNC_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "record.h"

extern const char *sync_validate_bar(const SyncBar *bar, const SyncBarQuery *q,
									 int64_t prev_ts_ms);
extern const char *sync_validate_trade(const SyncTrade *t, const SyncBarQuery *q);
extern bool sync_text_valid(const char *s, size_t len);
extern bool sync_text_escape(const char *in, char *out, size_t outlen, bool ascii);

#endif							/* SYNC_VALIDATE_H */
