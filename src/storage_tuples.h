/*-------------------------------------------------------------------------
 * storage_tuples.h
 *	  Pages of records inserted as heap tuples through the table AM's
 *	  multi-insert path, without COPY text.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_STORAGE_TUPLES_H
#define SYNC_STORAGE_TUPLES_H

#include "catalog.h"
#include "record.h"

/*
 * Each returns the rows inserted, or -1 without touching the table when
 * the table is not one this path can write exactly as COPY would (a
 * trigger or default sync did not make, a foreign table or partition, a
 * column type changed): the caller then uses COPY.
 */
extern int64 sync_tuples_insert_bars(SyncJob *job, const SyncBar *bars, int n);
extern int64 sync_tuples_insert_trades(SyncJob *job, const SyncTrade *trades, int n);

#endif							/* SYNC_STORAGE_TUPLES_H */
