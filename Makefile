# credit_scoring: PGXS build.  `make`, `make install`, `make unittest`, `make lint`;
# test/run_tests.sh runs every suite on temporary clusters.
EXTENSION = credit_scoring
MODULE_big = credit_scoring
EXTVERSION = 0.1.0

CORE_SRCS = $(sort $(wildcard src/core/*.c))
GLUE_SRCS = $(sort $(wildcard src/*.c))
OBJS = $(CORE_SRCS:.c=.o) $(GLUE_SRCS:.c=.o)

# The install script is built from sql/install/*.sql, one file per concern, in name order;
# upgrade scripts (sql/credit_scoring--A--B.sql) are written by hand, one per release.
CS_INSTALL_SQL = sql/$(EXTENSION)--$(EXTVERSION).sql
CS_INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = $(CS_INSTALL_SQL)
DATA = $(sort $(wildcard sql/$(EXTENSION)--*--*.sql))
DOCS = README.md

REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/[0-9]*.sql)))
REGRESS_OPTS = --inputdir=. --temp-config=test/regress.conf

PG_CPPFLAGS = -Isrc/core -std=gnu11 -D_GNU_SOURCE
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK = -ldl -lpthread -lm
# unit tests: every test/unit/test_*.c is a TAP program over the core
UNIT_TESTS = $(patsubst %.c,%,$(sort $(wildcard test/unit/test_*.c)))
# drivers against the reference libraries, built on demand, not run by the tests
UNIT_DRIVERS = $(patsubst %.c,%,$(sort $(wildcard test/unit/*_parity.c)))
EXTRA_CLEAN = $(UNIT_TESTS) $(UNIT_DRIVERS)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

UNIT_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Isrc/core

$(CS_INSTALL_SQL): $(CS_INSTALL_PARTS)
	cat $(CS_INSTALL_PARTS) > $@

test/unit/%: test/unit/%.c $(CORE_SRCS) $(wildcard src/core/*.h) test/unit/tap.h
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) -ldl -lpthread -lm

.PHONY: unittest unit-binaries lint
unit-binaries: $(UNIT_TESTS)
	@echo $(UNIT_TESTS)
unittest: $(UNIT_TESTS)
	prove -v $(UNIT_TESTS)

LINT_FILES = $(wildcard src/*.c src/*.h src/core/*.c src/core/*.h test/unit/*.c test/unit/*.h bench/*.c)
lint:
	clang-format --dry-run --Werror $(LINT_FILES)
	cppcheck --enable=warning,performance,portability --error-exitcode=1 --inline-suppr -q \
		--suppress=missingIncludeSystem -Isrc/core src/core test/unit

# every object depends on the headers (PGXS does not track them)
$(OBJS): $(wildcard src/core/*.h) $(wildcard src/*.h)
