// fuzz-sources: src/providers/*.c src/decimal.c src/validate.c
// fuzz-libs: json-c libcurl
// fuzz-dict: test/fuzz/json.dict
/*-------------------------------------------------------------------------
 * fuzz_multi_alpaca.c
 *	  libFuzzer target: Alpaca's multi-symbol answers (bars and trades by symbols=)
 *	  and requests, through the SyncProvider interface (fuzz_multi.h says how an input is read).
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

#define FUZZ_PROVIDER sync_provider_alpaca

static const char *const fuzz_symbols[4] = {"AAPL", "MSFT", "AIG", "S"};

#include "fuzz_multi.h"
