/*-------------------------------------------------------------------------
 * guc.c
 *	  Defines the sync.* configuration parameters.
 *
 * Start-time settings (sizes of shared memory) are PGC_POSTMASTER; anything
 * a worker can re-read on SIGHUP is PGC_SIGHUP so an operator can tune a
 * running system with pg_reload_conf().
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/guc.h"

#include "guc.h"
#include "http.h"
#include "sync.h"

int			sync_max_workers = 2;
int			sync_max_series = 10000;
int			sync_http_timeout_ms = 30000;
char	   *sync_user_agent = NULL;
char	   *sync_ca_bundle = NULL;
int			sync_poll_interval_ms = 10000;
int			sync_retry_base_ms = 500;
int			sync_retry_max_ms = 60000;
int			sync_naptime_ms = 1000;
int			sync_gap_repair_interval_ms = 600000;
int			sync_aggregate_interval_ms = 1000;
int			sync_aggregate_batch = 1000;
bool		sync_keep_rollups = false;
int			sync_retention_interval_ms = 60000;
int			sync_retention_batch = 10000;
int			sync_job_history_days = 30;
int			sync_notify_interval_ms = 1000;
int			sync_flush_interval_ms = 10;
int			sync_stream_batch = 5000;
int			sync_stream_queue_size = 16384;
bool		sync_stream_synchronous_commit = false;
bool		sync_synchronous_commit = true;
int			sync_stream_max_age_ms = 85800000;
int			sync_stream_idle_timeout_ms = 60000;
int			sync_requests_in_flight = 2;
int			sync_max_response_size_kb = 16384;
int			sync_max_file_size_kb = 262144;
bool		sync_allow_private_addresses = false;

/*
 * The version is sync.control's default_version, passed by the Makefile, so
 * the User-Agent a provider sees never names an older release.
 */
#ifndef SYNC_VERSION
#error "SYNC_VERSION is not defined: build with the Makefile (it reads sync.control)"
#endif
#define SYNC_USER_AGENT "sync/" SYNC_VERSION " (PostgreSQL extension)"

/*
 * The User-Agent is written into the WebSocket handshake as it is: a control
 * character (CR, LF) would end the header and start another.
 */
static bool
check_user_agent(char **newval, void **extra, GucSource source)
{
	for (const unsigned char *p = (const unsigned char *) *newval; p && *p; p++)
	{
		if (*p < 0x20 || *p == 0x7f)
		{
			GUC_check_errdetail("A User-Agent cannot hold control characters such as line breaks.");
			return false;
		}
	}
	return true;
}

void
sync_guc_init(void)
{
	/* start-time settings exist only when loaded at server start */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("sync.max_series",
							"Maximum number of series (subscriptions and running backfills) across all databases.",
							"Each takes a slot of about 1 kB of shared memory for its live status.",
							&sync_max_series,
							10000, 16, 1000000,
							PGC_POSTMASTER, 0,
							NULL, NULL, NULL);

	/*
	 * The default fits PostgreSQL's default max_worker_processes (8) next
	 * to the launcher, a supervisor, the aggregator, the scheduler, the
	 * logical replication launcher and a streamer.
	 */
	DefineCustomIntVariable("sync.max_workers",
							"Maximum number of pool worker processes carrying sync's series, across all databases.",
							"Each worker carries many series; each is also a background worker: max_worker_processes must leave room for them.",
							&sync_max_workers,
							2, 1, SYNC_MAX_POOL_WORKERS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.http_timeout_ms",
							"Timeout of one HTTP request to a provider.",
							NULL,
							&sync_http_timeout_ms,
							30000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * What one REST answer may cost.  json-c turns a page into a tree many
	 * times its size: ~10-20x for real pages, 50x for a body of empty
	 * arrays and 265x for one of empty objects (a 16 MB body of "{}," takes
	 * 4 GB), so this limit is kept just above the largest legitimate page:
	 * Polygon's 50000 trades ~13 MB (50000 aggregates ~5 MB), Alpaca's 10000
	 * bars or trades ~1.5 MB, Binance's 1000 klines ~0.2 MB.  Bounding the
	 * tree itself is the parser's part (counts against the page size).
	 */
	DefineCustomIntVariable("sync.max_response_size",
							"Largest answer to one REST request; a larger one is abandoned while it downloads.",
							"The largest legitimate page (Polygon's 50000 trades) is about 13 MB. "
							"Day files of the csv provider have their own limit, sync.max_file_size.",
							&sync_max_response_size_kb,
							16384, 64, 1048576,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);

	/*
	 * Day files are parsed line by line from the downloaded text, with no
	 * tree: one costs about its size in memory, so it may be larger than a
	 * JSON page.  A day of tick trades of a busy symbol is tens to ~150 MB.
	 */
	DefineCustomIntVariable("sync.max_file_size",
							"Largest day file a csv source may read (file:// or http).",
							"CSV is parsed as text without a tree, so a file costs about its size in memory.",
							&sync_max_file_size_kb,
							262144, 64, 1048576,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("sync.allow_private_addresses",
							 "Let sources created by non-superusers connect to loopback, private, link-local and other non-public addresses.",
							 "Off by default: such a source could otherwise make the server fetch from itself, "
							 "the cloud metadata endpoint or the private network, and show the answer to "
							 "sync_reader.  Sources created by a superuser may always connect anywhere.",
							 &sync_allow_private_addresses,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("sync.user_agent",
							   "User-Agent header sent to providers.",
							   "The default names sync and its version: " SYNC_USER_AGENT ".",
							   &sync_user_agent,
							   SYNC_USER_AGENT,
							   PGC_SIGHUP, 0,
							   check_user_agent, NULL, NULL);

	DefineCustomStringVariable("sync.ca_bundle",
							   "File of CA certificates to verify providers' TLS certificates with.",
							   "Empty means the system's default bundle.",
							   &sync_ca_bundle,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("sync.poll_interval_ms",
							"How often a caught-up historical job asks its provider for new bars.",
							"A source's poll_interval_ms option overrides it.",
							&sync_poll_interval_ms,
							10000, 10, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.retry_base_ms",
							"First delay of the exponential backoff after a transient failure.",
							NULL,
							&sync_retry_base_ms,
							500, 1, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.retry_max_ms",
							"Longest delay of the exponential backoff after transient failures.",
							NULL,
							&sync_retry_max_ms,
							60000, 1, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.naptime_ms",
							"How often supervisors look for new, removed or dead jobs.",
							"They also wake at once when a worker starts or stops.",
							&sync_naptime_ms,
							1000, 10, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.gap_repair_interval_ms",
							"How often a caught-up job re-requests the holes sync.gaps lists for it.",
							NULL,
							&sync_gap_repair_interval_ms,
							600000, 100, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.requests_in_flight",
							"Requests one job keeps in flight while backfilling dense bars.",
							"More helps against a distant provider (each request waits a round trip); "
							"on a machine whose CPUs are busy it only adds contention.",
							&sync_requests_in_flight,
							2, 1, SYNC_HTTP_MAX_TRANSFERS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.aggregate_interval_ms",
							"How often the aggregator folds newly stored data into the rollups.",
							"The bars_* views are current either way; a shorter interval keeps the part "
							"they compute on the fly small.",
							&sync_aggregate_interval_ms,
							1000, 10, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.aggregate_batch",
							"Invalidations one aggregator transaction claims at most.",
							"Each is one statement's change to one symbol; a larger batch means fewer, "
							"longer transactions.",
							&sync_aggregate_batch,
							1000, 1, 1000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.retention_interval_ms",
							"How often the scheduler looks for data older than the retention policies.",
							"While old rows remain it deletes batch after batch, then waits this long.",
							&sync_retention_interval_ms,
							60000, 100, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.retention_batch",
							"Rows per dataset one retention transaction deletes at most.",
							NULL,
							&sync_retention_batch,
							10000, 1, 10000000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.job_history_days",
							"Days finished runs stay in sync.job_runs; 0 keeps them all.",
							NULL,
							&sync_job_history_days,
							30, 0, 36500,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.notify_interval_ms",
							"Shortest time between two NOTIFYs of one job on sync_bars / sync_trades.",
							"Rows stored in between are announced together; a job that catches up "
							"announces at once.",
							&sync_notify_interval_ms,
							1000, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.flush_interval_ms",
							"Longest time a streamed message waits in memory before it is committed.",
							"A stream's messages are committed together, one transaction per flush: "
							"when this much time has passed since the first one, or sync.stream_batch "
							"are waiting.",
							&sync_flush_interval_ms,
							10, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.stream_batch",
							"Most streamed messages committed in one transaction.",
							NULL,
							&sync_stream_batch,
							5000, 1, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("sync.synchronous_commit",
							 "Whether the commit of a page fetched over REST waits for its WAL to reach disk.",
							 "On by default: a row once committed survives a crash.  Off saves a WAL flush "
							 "a page; a page and the checkpoint it moves commit together, so a crash can "
							 "only take back the newest pages with their checkpoint, and the series fetches "
							 "them again.  Streams have sync.stream_synchronous_commit.",
							 &sync_synchronous_commit,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("sync.stream_queue_size",
							"Size of the queue from a source's streamer to its storer.",
							"Parsed batches wait here while the storer is busy; when it is full the "
							"streamer stops reading the connection until there is room.  Read when a "
							"streamer starts.",
							&sync_stream_queue_size,
							16384, 64, 1048576,
							PGC_SIGHUP, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("sync.stream_synchronous_commit",
							 "Whether a stream batch's commit waits for its WAL to reach disk.",
							 "Off by default: a batch and the checkpoint it moves commit together, so a "
							 "crash can only take back the newest batches with their checkpoint, and the "
							 "job fetches them again over REST.",
							 &sync_stream_synchronous_commit,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("sync.stream_idle_timeout_ms",
							"Silence after which a stream connection is given up and opened again.",
							"A stream that has sent nothing for half of this is pinged; one that has "
							"still sent nothing, not even the answer, is taken as dead, and its jobs "
							"poll REST until it is back.",
							&sync_stream_idle_timeout_ms,
							60000, 100, 86400000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("sync.stream_max_age_ms",
							"Age at which a stream connection is closed and opened again on purpose.",
							"Ahead of providers' own limits (Binance closes connections after 24 hours); "
							"the hole is filled over REST as after any reconnect.",
							&sync_stream_max_age_ms,
							85800000, 1000, PG_INT32_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("sync.keep_rollups",
							 "Changes to bars and trades in this session leave the rollups as they are.",
							 "Retention sets it while deleting old base data, so that rollups keep "
							 "their own, longer history.",
							 &sync_keep_rollups,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	MarkGUCPrefixReserved("sync");
}
