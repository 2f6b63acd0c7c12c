# PGXS build of the sync extension.
EXTENSION  = sync
MODULE_big = sync

SRCS = $(wildcard src/*.c) $(wildcard src/providers/*.c) $(wildcard bgworkers/*.c)
OBJS = $(SRCS:.c=.o)

DATA = $(wildcard sql/sync--*.sql)

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test --load-extension=sync

TAP_TESTS = 1
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

EXTRA_CLEAN = test/results test/regression.diffs test/regression.out tmp_check $(SRCS:.c=.gcda) $(SRCS:.c=.gcno)

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
