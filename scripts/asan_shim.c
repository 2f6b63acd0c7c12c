/*-------------------------------------------------------------------------
 * asan_shim.c
 *	  Preloaded after the ASan runtime by SYNC_SANITIZE=1 scripts/test.sh,
 *	  so that PostgreSQL's programs can start with the runtime preloaded.
 *
 * The server links libp11-kit (through libldap and gnutls), whose
 * constructor runs before the preloaded ASan runtime's and calls
 * newlocale(), whose malloc() starts ASan.  ASan's start looks up
 * swift_demangle with dlsym(); the failed lookup makes dlerror() call
 * gettext while newlocale() holds glibc's locale lock, which leaves
 * _nl_state_lock broken: every PostgreSQL program then hangs in
 * bindtextdomain().  Defining the symbol makes the lookup succeed.  It
 * only demangles Swift names, which there are none of: NULL says "not
 * demangled".
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>

char	   *swift_demangle(const char *mangled, size_t len, char *out, size_t *outlen,
						   uint32_t flags);

char *
swift_demangle(const char *mangled, size_t len, char *out, size_t *outlen, uint32_t flags)
{
	return NULL;
}
