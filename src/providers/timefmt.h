/*-------------------------------------------------------------------------
 * timefmt.h
 *	  UTC time text to and from ms since the Unix epoch (timefmt.c).
 *	  Free of json-c so PostgreSQL-side code may include it too.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_TIMEFMT_H
#define SYNC_TIMEFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern bool sync_parse_rfc3339(const char *s, int64_t *ms);
extern void sync_format_rfc3339(int64_t ms, char *buf, size_t len);
extern void sync_format_date(int64_t ms, char *buf, size_t len);

#endif							/* SYNC_TIMEFMT_H */
