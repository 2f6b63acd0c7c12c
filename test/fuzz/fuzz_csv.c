// fuzz-sources: src/providers/*.c src/decimal.c src/validate.c
// fuzz-libs: json-c libcurl
// fuzz-dict: test/fuzz/csv.dict
/*-------------------------------------------------------------------------
 * fuzz_csv.c
 *	  libFuzzer target: CSV kline and trade files (parse_bars and
 *	  parse_trades), through the SyncProvider interface (fuzz_provider.h
 *	  says how an input is read).
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

#define FUZZ_PROVIDER sync_provider_csv

static const char *const fuzz_symbols[4] = {"ADABTC", "XRPETH", "BTCUSDT", "S"};

#include "fuzz_provider.h"
