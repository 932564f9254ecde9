# pg_qmdb — build with PGXS; `make test` and `make demo` do all set-up.
#
#   make test    install missing packages, build, run every test
#   make demo    install missing packages, build, run the demo
#   make bench   benchmarks, side by side with the PostgreSQL baseline
#   make         build the extension (and the unit tests)
#   make install install the extension into the PostgreSQL found by PG_CONFIG
#   make deb     the Debian package (postgresql-15-qmdb) in build/deb, checked by lintian

PG_MAJOR   ?= 15
PG_CONFIG  ?= $(firstword $(wildcard /usr/lib/postgresql/$(PG_MAJOR)/bin/pg_config) pg_config)

EXTENSION  = pg_qmdb
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" pg_qmdb.control)
MODULE_big = pg_qmdb
DATA       = $(wildcard extension/*.sql) extension/pg_qmdb--0.1.0.control
# The newest version's install script, made by make (not kept in git): a
# check of the schema CREATE EXTENSION made or found (fresh-install.sql.in),
# then the 0.1.0 script and every upgrade script after it, in order, without
# 0.1.0's CREATE SCHEMA (the control file's schema).
# Add each new upgrade script to the chain.
UPGRADE_CHAIN = extension/pg_qmdb--0.1.0.sql extension/pg_qmdb--0.1.0--0.2.0.sql extension/pg_qmdb--0.2.0--0.3.0.sql extension/pg_qmdb--0.3.0--0.4.0.sql
DATA_built = build/pg_qmdb--$(EXTVERSION).sql

CORE_SRCS := $(sort $(wildcard src/core/*.cpp src/core/*/*.cpp))
PG_SRCS   := $(sort $(wildcard src/pg/*.cpp src/pg/*/*.cpp))
CORE_OBJS := $(CORE_SRCS:.cpp=.o)
OBJS       = $(CORE_OBJS) $(PG_SRCS:.cpp=.o)

UNIT_SRCS := $(sort $(wildcard tests/unit/*.cpp))
UNIT_OBJS := $(UNIT_SRCS:.cpp=.o)
UNIT_BIN   = build/unit_tests

INCLUDEDIR_SERVER := $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)
# -isystem: warnings inside PostgreSQL's headers are not ours to fix.
INCLUDEDIR := $(shell $(PG_CONFIG) --includedir 2>/dev/null)
PG_CPPFLAGS = -Isrc -isystem $(INCLUDEDIR_SERVER) -isystem $(INCLUDEDIR) -DPG_QMDB_VERSION='"$(EXTVERSION)"'
# -MMD -MP: header dependencies, so editing a header rebuilds its users.
PG_CXXFLAGS = -std=c++17 -pthread -Wall -Wextra -Werror -Wno-register -MMD -MP
SHLIB_LINK  = -lpq -lcrypto -lstdc++ -pthread

# The LLVM bitcode PGXS would build for JIT needs clang and buys us nothing.
override with_llvm = no

EXTRA_CLEAN = build $(UNIT_OBJS) bench/*.o $(shell find src tests bench -name '*.d') results regression.diffs regression.out tmp_check

PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif

-include $(OBJS:.o=.d) $(UNIT_OBJS:.o=.d)

.PHONY: deps build unit unit-build check-core test demo bench format deb

all: check-core

deps:
	@scripts/ensure-deps.sh

build: all unit-build

# src/core must stay free of PostgreSQL (DESIGN §3).
check-core:
	@if grep -rnE '#\s*include\s*[<"](postgres|fmgr|funcapi|executor/|utils/|access/|catalog/|storage/|miscadmin|libpq)' src/core; then \
		echo "error: src/core includes a PostgreSQL header (see above)"; exit 1; fi

unit-build: $(UNIT_BIN)

build/pg_qmdb--$(EXTVERSION).sql: extension/fresh-install.sql.in $(UPGRADE_CHAIN) Makefile
	@mkdir -p build
	@{ echo "-- pg_qmdb $(EXTVERSION): made by make from extension/fresh-install.sql.in $(UPGRADE_CHAIN)"; \
	  printf '%s\n' '\echo Use "CREATE EXTENSION pg_qmdb" to load this file. \quit'; \
	  cat extension/fresh-install.sql.in; \
	  for f in $(UPGRADE_CHAIN); do echo "-- $$f"; sed -e '/^\\echo /d' -e '/^CREATE SCHEMA qmdb;$$/d' $$f; done; } >$@

$(UNIT_BIN): $(UNIT_OBJS) $(CORE_OBJS)
	@mkdir -p build
	$(CXX) -o $@ $^ -lgtest -lgtest_main -lpthread -lcrypto

unit: $(UNIT_BIN)
	$(UNIT_BIN)

BENCH_BIN = build/hash_bench

$(BENCH_BIN): bench/hash_bench.o $(CORE_OBJS)
	@mkdir -p build
	$(CXX) -o $@ $^ -lbenchmark -lpthread -lcrypto

bench: deps
	@$(MAKE) --no-print-directory build $(BENCH_BIN)
	@scripts/bench.sh

test: deps
	@$(MAKE) --no-print-directory build
	@scripts/run-tests.sh

demo: deps
	@$(MAKE) --no-print-directory build
	@scripts/demo.sh

format:
	clang-format -i $(CORE_SRCS) $(PG_SRCS) $(UNIT_SRCS) $(wildcard src/core/*.h src/core/*/*.h src/pg/*.h src/pg/*/*.h tests/unit/*.h bench/*.cpp)

# The Debian package, built from the tracked files of the working tree in a
# copy of its own (dpkg-buildpackage cleans and builds in place), then
# checked by lintian (overrides, if any, in debian/*.lintian-overrides).
deb: deps
	rm -rf build/deb && mkdir -p build/deb/pg-qmdb
	git ls-files -z | xargs -0 tar cf - | tar xf - -C build/deb/pg-qmdb
	cd build/deb/pg-qmdb && DEB_BUILD_OPTIONS="parallel=2 nocheck" dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning build/deb/*.changes
