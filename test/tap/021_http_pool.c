/*-------------------------------------------------------------------------
 * 021_http_pool.c
 *	  Test driver of the event-loop API of src/http.c (sync_http_submit,
 *	  sync_http_poll, sync_http_next_done) for 021_http_pool.pl, which
 *	  compiles it with http.c and netguard.c into a module of its own that a
 *	  node without sync loads by path: nothing here is in the extension.
 *
 * http_pool_run() runs a list of GETs on one client of a given capacity
 * the way a pool worker does (submit while there is room, poll, collect
 * the finished), checks the API's invariants as it goes, and returns one
 * row per request.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "http.h"

PG_MODULE_MAGIC;

/* the settings http.c reads, as plain variables: the test passes their values */
int			sync_max_response_size_kb = 10240;
int			sync_max_file_size_kb = 10240;
bool		sync_allow_private_addresses = false;
char	   *sync_ca_bundle = NULL;
char	   *sync_user_agent = "sync-test";

PG_FUNCTION_INFO_V1(http_pool_run);

static void
check(bool ok, const char *what, int value)
{
	if (!ok)
		elog(ERROR, "http pool invariant broken: %s (%d)", what, value);
}

/*
 * http_pool_run(urls text[], trusted bool[], allow_file bool[], capacity int,
 *				 timeout_ms int, max_response_kb int, max_file_kb int,
 *				 cancel_every int)
 * RETURNS TABLE (i int, status int, curl_code int, body_len int, head text, error text)
 *
 * Every cancel_every-th request (0: none) is cancelled right after it was
 * submitted: its row says 'cancelled'.  A last row, i = -1, says in error
 * how many were at most in flight at once and how often submit found the
 * client full, and in status how many polls of 100 ms an idle client made
 * in 300 ms once every request had ended.
 */
Datum
http_pool_run(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Datum	   *urld,
			   *trustd,
			   *filed;
	bool	   *nulls;
	int			n,
				nt,
				nf;
	int			capacity = PG_GETARG_INT32(3);
	int			timeout_ms = PG_GETARG_INT32(4);
	int			cancel_every = PG_GETARG_INT32(7);
	SyncHttpClient *volatile c;
	SyncHttpResponse *resp;
	int		   *req_of_slot;
	bool	   *cancelled;
	int			max_active = 0,
				full = 0,
				idle_polls = 0;

	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT, &urld, &nulls, &n);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(1), BOOLOID, 1, true, TYPALIGN_CHAR, &trustd, &nulls, &nt);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(2), BOOLOID, 1, true, TYPALIGN_CHAR, &filed, &nulls, &nf);
	if (nt != n || nf != n)
		elog(ERROR, "urls, trusted and allow_file differ in length");
	sync_max_response_size_kb = PG_GETARG_INT32(5);
	sync_max_file_size_kb = PG_GETARG_INT32(6);

	InitMaterializedSRF(fcinfo, 0);
	c = sync_http_client_create_sized(capacity);
	if (c == NULL)
		elog(ERROR, "sync_http_client_create_sized(%d) failed", capacity);
	check(sync_http_client_capacity(c) == capacity, "capacity", sync_http_client_capacity(c));
	resp = palloc0(sizeof(SyncHttpResponse) * n);
	cancelled = palloc0(sizeof(bool) * n);
	req_of_slot = palloc(sizeof(int) * capacity);
	for (int s = 0; s < capacity; s++)
		req_of_slot[s] = -1;

	PG_TRY();
	{
		int			next = 0,
					ended = 0,
					busy = 0;

		while (ended < n)
		{
			int			slot;

			CHECK_FOR_INTERRUPTS();
			while (next < n)
			{
				SyncHttpOptions opts;

				opts.timeout_ms = timeout_ms;
				opts.trusted = DatumGetBool(trustd[next]);
				opts.allow_file = DatumGetBool(filed[next]);
				slot = sync_http_submit(c, TextDatumGetCString(urld[next]), NULL, &opts, &resp[next]);
				if (slot < 0)
				{
					check(busy == capacity, "submit refused with free slots", busy);
					full++;
					break;
				}
				check(slot < capacity && req_of_slot[slot] < 0, "submit gave a busy slot", slot);
				busy++;
				if (cancel_every > 0 && next % cancel_every == cancel_every - 1)
				{
					sync_http_cancel(c, slot);
					cancelled[next] = true;
					busy--;
					ended++;
				}
				else
					req_of_slot[slot] = next;
				next++;
				check(sync_http_active(c) == busy, "active", sync_http_active(c));
				max_active = Max(max_active, busy);
			}
			while ((slot = sync_http_next_done(c)) >= 0)
			{
				check(slot < capacity && req_of_slot[slot] >= 0, "next_done gave a slot not in flight", slot);
				req_of_slot[slot] = -1;
				busy--;
				ended++;
				check(sync_http_active(c) == busy, "active", sync_http_active(c));
			}
			if (ended < n)
				sync_http_poll(c, 1000);
		}
		check(sync_http_active(c) == 0, "active at the end", sync_http_active(c));
		check(sync_http_next_done(c) == -1, "next_done at the end", 0);

		/*
		 * Idle, each poll waits its full 100 ms: a timer of curl's kept after
		 * it fired would make every wait a zero one (a spin).
		 */
		{
			TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 300);

			while (GetCurrentTimestamp() < until)
			{
				CHECK_FOR_INTERRUPTS();
				sync_http_poll(c, 100);
				idle_polls++;
			}
		}
	}
	PG_CATCH();
	{
		sync_http_client_destroy(c);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sync_http_client_destroy(c);

	for (int i = 0; i <= n; i++)
	{
		Datum		values[6];
		bool		isnull[6] = {false, false, false, false, false, false};

		values[0] = Int32GetDatum(i < n ? i : -1);
		if (i == n)
		{
			values[1] = Int32GetDatum(idle_polls);
			values[2] = values[3] = Int32GetDatum(0);
			values[4] = CStringGetTextDatum("");
			values[5] = CStringGetTextDatum(psprintf("max_active=%d full=%d", max_active, full));
		}
		else if (cancelled[i])
		{
			values[1] = values[2] = values[3] = Int32GetDatum(-1);
			values[4] = CStringGetTextDatum("");
			values[5] = CStringGetTextDatum("cancelled");
			sync_http_response_free(&resp[i]);
		}
		else
		{
			values[1] = Int32GetDatum((int32) resp[i].status);
			values[2] = Int32GetDatum(resp[i].curl_code);
			values[3] = Int32GetDatum((int32) resp[i].body_len);
			values[4] = CStringGetTextDatum(pnstrdup(resp[i].body ? resp[i].body : "",
													 Min(resp[i].body_len, 16)));
			values[5] = CStringGetTextDatum(resp[i].error);
			sync_http_response_free(&resp[i]);
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, isnull);
	}
	return (Datum) 0;
}
