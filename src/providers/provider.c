/*-------------------------------------------------------------------------
 * provider.c
 *	  The table of providers, and the helpers every provider uses to fill
 *	  a page.
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <string.h>

#include "provider.h"

static const SyncProvider *const providers[] = {
	&sync_provider_binance,
};

const SyncProvider *
sync_provider_lookup(const char *name)
{
	for (size_t i = 0; i < sizeof(providers) / sizeof(providers[0]); i++)
		if (strcmp(providers[i]->name, name) == 0)
			return providers[i];
	return NULL;
}

/* Keep a refused record; past the capacity only the count grows. */
void
sync_page_reject(SyncBarPage *page, const char *reason, const char *payload)
{
	SyncReject *r;

	if (page->nrejects >= page->reject_capacity)
		return;
	r = &page->rejects[page->nrejects++];
	snprintf(r->reason, sizeof(r->reason), "%s", reason);
	snprintf(r->payload, sizeof(r->payload), "%s", payload ? payload : "");
}

/* Copy decimal text; false when it does not fit. */
bool
sync_copy_decimal(char *dst, const char *src)
{
	size_t		len = strlen(src);

	if (len >= SYNC_NUM_LEN)
		return false;
	memcpy(dst, src, len + 1);
	return true;
}

void
sync_request_add_header(SyncRequest *req, const char *fmt, const char *value)
{
	int			n = 0;

	while (req->headers[n] != NULL && n < SYNC_MAX_HEADERS)
		n++;
	if (n == SYNC_MAX_HEADERS)
		return;
	snprintf(req->header_buf[n], SYNC_HEADER_LEN, fmt, value);
	req->headers[n] = req->header_buf[n];
	req->headers[n + 1] = NULL;
}
