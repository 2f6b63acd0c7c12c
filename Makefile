# PGXS build of the sync extension.
# `make` builds everything (PGXS's all), whatever rules come before its include.
.DEFAULT_GOAL := all
EXTENSION  = sync
MODULE_big = sync

SRCS = $(wildcard src/*.c) $(wildcard src/providers/*.c) $(wildcard bgworkers/*.c)
OBJS = $(SRCS:.c=.o)

DATA = $(wildcard sql/sync--*.sql)

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test --load-extension=sync

# The SQL tests start workers, so their server must preload sync.  As
# pg_cron does, `make installcheck` has pg_regress start a server of its own
# from the installed binaries with test/regress.conf (which preloads sync):
# a packager's bare `pg_virtualenv make installcheck` passes.  initdb refuses
# to run as root, so as root (or with SYNC_REGRESS_SERVER=existing) the tests
# run on the server the PG* variables name, which must preload sync:
# `pg_virtualenv -o shared_preload_libraries=sync make installcheck`.
SYNC_REGRESS_SERVER ?= $(if $(filter 0,$(shell id -u)),existing,temp)
ifeq ($(SYNC_REGRESS_SERVER),temp)
REGRESS_OPTS += --temp-instance=tmp/regress-instance --temp-config=$(srcdir)/test/regress.conf
REGRESS_PREP = regress-tmp
else
REGRESS_PREP = regress-preloaded
endif
.PHONY: regress-tmp regress-preloaded
regress-tmp:
	$(MKDIR_P) tmp
# on a server that does not preload sync, say so instead of failing tests
regress-preloaded:
	@libs=$$('$(bindir)/psql' -XAtqc 'SHOW shared_preload_libraries' -d postgres 2>/dev/null) || exit 0; \
	echo "$$libs" | tr ', ' '\n\n' | grep -qx sync || { \
	echo "make installcheck: the server does not preload sync (shared_preload_libraries = '$$libs')." >&2; \
	echo "Its tests start workers: run pg_virtualenv -o shared_preload_libraries=sync make installcheck (as root they cannot start a server of their own)." >&2; \
	exit 1; }

# The Perl TAP suites (minutes, and tools a packager lacks) run from
# scripts/test.sh; `make installcheck SYNC_TAP=1` adds them.
ifdef SYNC_TAP
TAP_TESTS = 1
endif
PROVE_TESTS = $(sort $(wildcard test/tap/*.pl))
PROVE_FLAGS = -I $(srcdir)/test/tap

# The version comes from sync.control alone (the C code's SYNC_VERSION:
# sync.user_agent's default), so the two never drift apart.
SYNC_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(dir $(lastword $(MAKEFILE_LIST)))sync.control)
PG_CPPFLAGS = -I$(srcdir)/src $(shell pkg-config --cflags libcurl json-c) -DSYNC_VERSION='"$(SYNC_VERSION)"'
SHLIB_LINK  = $(shell pkg-config --libs libcurl json-c) -lwslay

# CI builds with SYNC_WERROR=1; coverage builds with SYNC_COVERAGE=1;
# SYNC_SANITIZE=1 builds with ASan and UBSan (the server is not built so:
# scripts/test.sh preloads the sanitizer runtime into it).
ifdef SYNC_WERROR
PG_CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare -Wno-cast-function-type -Werror
endif
ifdef SYNC_COVERAGE
PG_CFLAGS += --coverage -O0
SHLIB_LINK += --coverage
endif

ifdef SYNC_SANITIZE
PG_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
SHLIB_LINK += -fsanitize=address,undefined
endif

EXTRA_CLEAN = test/results test/regression.diffs test/regression.out tmp_check tmp/regress-instance $(SRCS:.c=.gcda) $(SRCS:.c=.gcno)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Structs are shared through headers: a changed header rebuilds everything.
$(OBJS): $(wildcard src/*.h src/providers/*.h bgworkers/*.h)
# A new version in sync.control rebuilds what prints it.
src/guc.o: sync.control

# The client, pg_sync (client/), and the dashboard it serves (dashboard/)
.PHONY: client client-install client-clean
all: client
client:
	$(MAKE) -C client PG_CONFIG=$(PG_CONFIG)
install: client-install
client-install: client
	$(MAKE) -C client install PG_CONFIG=$(PG_CONFIG)
clean: client-clean
client-clean:
	$(MAKE) -C client clean PG_CONFIG=$(PG_CONFIG)

# PGXN's distribution: a zip of the committed tree under one directory
# sync-<version>/, the version sync.control's default_version (META.json
# says the same; scripts/check_meta.py checks it).
SYNC_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" sync.control)
.PHONY: dist
dist:
	git archive --format=zip --prefix=sync-$(SYNC_VERSION)/ -o sync-$(SYNC_VERSION).zip HEAD
