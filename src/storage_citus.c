/*-------------------------------------------------------------------------
 * storage_citus.c
 *	  Tells storage whether a table of schema sync is a Citus table
 *	  (sync_distribute() made it one: docs/scale-out.md).
 *
 * On a Citus coordinator a distributed table is an empty shell: its rows
 * live in shards on the worker nodes, and only statements that go
 * through the planner and executor reach them (Citus plans them).  The
 * fast write (storage_tuples.c) and the in-process COPY (BeginCopyFrom)
 * open the relation itself and would fill the shell, where no query
 * looks: storage.c writes a distributed table with its SQL statements
 * instead.  sync does not link Citus: its catalog says which tables it
 * distributes (pg_dist_partition), read only where the citus extension
 * is installed, so a database without Citus pays one catalog lookup a
 * page.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/lsyscache.h"

#include "storage_citus.h"

static SPIPlanPtr distributed_plan = NULL;

/*
 * Whether sync.<relname> is in Citus's metadata (distributed, or a
 * reference table).  Runs inside the caller's SPI connection.
 */
bool
sync_citus_distributed(const char *relname)
{
	Oid			relid;
	Datum		values[1];
	int			ret;

	if (!OidIsValid(get_extension_oid("citus", true)))
		return false;
	relid = get_relname_relid(relname, get_namespace_oid("sync", false));
	if (!OidIsValid(relid))
		return false;
	if (distributed_plan == NULL)
	{
		Oid			types[1] = {OIDOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT 1 FROM pg_catalog.pg_dist_partition"
									   " WHERE logicalrelid = $1", 1, types);

		if (plan == NULL)
			elog(ERROR, "could not prepare the Citus table lookup: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		distributed_plan = plan;
	}
	values[0] = ObjectIdGetDatum(relid);
	ret = SPI_execute_plan(distributed_plan, values, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not look up Citus's tables: %s", SPI_result_code_string(ret));
	return SPI_processed > 0;
}
