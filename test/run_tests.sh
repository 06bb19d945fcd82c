#!/usr/bin/env bash
#
# test/run_tests.sh: build credit_scoring and run every test suite.
#
#   1. install the Debian packages it needs (apt-get; through sudo when not root)
#   2. build (make -j2) and install (make install; through sudo when not root)  -- a failure stops
#   3. lint         make lint (clang-format, cppcheck); counts as one test
#   4. unit tests   test/unit/test_*.c (TAP programs over src/core, run by prove), no server
#   5. regression   pg_regress over sql/[0-9]*.sql on a temporary instance
#   6. TAP tests    prove test/tap/*.pl (PostgreSQL::Test::Cluster)
#   7. a summary: each suite's counts, then one line "N passed, N failed"
#
# Servers refuse to run as root, so when run as root the suites run as the `postgres` user, from
# a copy of the tree in a temporary directory it owns.  Every suite runs even when an earlier one
# fails; the exit status is non-zero if anything failed.  Set KEEP_TMP=1 to keep the temporary
# directory (it is kept anyway when something failed, and its path printed).

set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$REPO/scripts/common.sh"
cd "$REPO" || exit 1

PACKAGES=(build-essential postgresql-15 postgresql-server-dev-15 libopenblas-dev libipc-run-perl
	clang-format cppcheck)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=/usr/lib/postgresql/15/bin
PGXS_DIR=/usr/lib/postgresql/15/lib/pgxs
PG_REGRESS=$PGXS_DIR/src/test/regress/pg_regress
PERL_TESTLIB=$PGXS_DIR/src/test/perl

WORK=                 # temporary directory (copy of the tree, outputs)
SUITES=()             # summary lines, one per suite
TOTAL_PASSED=0
TOTAL_FAILED=0

# --- helpers -----------------------------------------------------------------------------------


# Record a suite's result for the summary.
record()
{
	local name=$1 passed=$2 failed=$3 note=${4:-}
	TOTAL_PASSED=$((TOTAL_PASSED + passed))
	TOTAL_FAILED=$((TOTAL_FAILED + failed))
	SUITES+=("$(printf '  %-12s %4d passed, %4d failed%s' "$name:" "$passed" "$failed" "${note:+  ($note)}")")
}

# Count a prove run from its output file and exit status; sets PASSED and FAILED.
# Tests run = N of the "Files=..., Tests=N," line.  Each program listed in prove's
# "Test Summary Report" as "name (Wstat: ... Tests: T Failed: F)" adds F failures, or 1 failure
# when F is 0 (it died, or ran fewer tests than planned, or printed no plan).
# PASSED = N - (sum of F).  A prove that fails without a "Files=" line counts as 1 failure.
count_prove()
{
	local log=$1 rc=$2 total failed_subtests broken
	total=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\),.*/\1/p' "$log" | tail -n 1)
	failed_subtests=$(sed -n 's/^.* (Wstat: .* Tests: [0-9]* Failed: \([0-9]*\))$/\1/p' "$log" |
		awk '{ s += $1 } END { print s + 0 }')
	broken=$(grep -cE '^.* \(Wstat: .* Tests: [0-9]+ Failed: 0\)$' "$log")
	if [ -z "$total" ]; then
		PASSED=0
		FAILED=$((rc != 0 ? 1 : 0))
		return
	fi
	PASSED=$((total - failed_subtests))
	FAILED=$((failed_subtests + broken))
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
		FAILED=1
	fi
}

# Count a pg_regress run from its summary line; sets PASSED and FAILED.
#   "All N tests passed."                              N passed
#   "P of N tests passed, I failed test(s) ignored."   N passed (ignored failures pass)
#   "F of N tests failed."                             N-F passed, F failed
#   "F of N tests failed, I of these failures ignored." N-F+I passed, F-I failed
# (PostgreSQL 15 prints the line inside a box of '='; later versions prefix it with "# ".)
# No summary line and a non-zero exit status (the instance did not start): 1 failure.
count_pg_regress()
{
	local log=$1 rc=$2 line a b c
	line=$(grep -E '^(# )? *(All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests (passed|failed))' "$log" |
		tail -n 1)
	PASSED=0
	FAILED=0
	if [[ $line =~ All\ ([0-9]+)\ tests\ passed ]]; then
		PASSED=${BASH_REMATCH[1]}
	elif [[ $line =~ ([0-9]+)\ of\ ([0-9]+)\ tests\ passed ]]; then
		PASSED=${BASH_REMATCH[2]}
	elif [[ $line =~ ([0-9]+)\ of\ ([0-9]+)\ tests\ failed,\ ([0-9]+)\ of\ these ]]; then
		a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]} c=${BASH_REMATCH[3]}
		PASSED=$((b - a + c))
		FAILED=$((a - c))
	elif [[ $line =~ ([0-9]+)\ of\ ([0-9]+)\ tests\ failed ]]; then
		a=${BASH_REMATCH[1]} b=${BASH_REMATCH[2]}
		PASSED=$((b - a))
		FAILED=$a
	fi
	if [ "$rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
		FAILED=1
	fi
}

# --- steps -------------------------------------------------------------------------------------

# Build and install the extension.
build()
{
	say "build"
	make -j2 PG_CONFIG="$PG_CONFIG" || return 1
	say "install"
	as_root make install PG_CONFIG="$PG_CONFIG" || return 1
}

# make lint, counted as one test.  stdin is /dev/null: clang-format with no files reads stdin.
run_lint()
{
	say "lint"
	if make lint PG_CONFIG="$PG_CONFIG" </dev/null; then
		record lint 1 0
	else
		record lint 0 1
	fi
}

# C unit tests of src/core, without a server.
run_unit()
{
	local log=$WORK/unit.log rc
	say "unit tests"
	if [ ! -f test/unit/test_core.c ]; then
		echo "no test/unit/test_core.c yet: skipped"
		record unit 0 0 "skipped: no test/unit/test_core.c"
		return
	fi
	local tests
	if ! tests=$(make -s unit-binaries PG_CONFIG="$PG_CONFIG" | tail -n 1); then
		record unit 0 1 "did not build"
		return
	fi
	# shellcheck disable=SC2086
	prove $tests 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count_prove "$log" "$rc"
	record unit "$PASSED" "$FAILED"
}

# Copy what the server-side suites need into $WORK/src, owned by the server user.
make_copy()
{
	local d
	mkdir -p "$WORK/src"
	for d in sql expected input output test data; do
		if [ -e "$d" ]; then
			cp -R "$d" "$WORK/src/"
		fi
	done
	cp Makefile ./*.control "$WORK/src/" 2>/dev/null
	find "$WORK/src/test/unit" -type f -perm -u+x -delete
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$WORK"
	fi
}

# pg_regress over sql/[0-9]*.sql, in file-name order, on a temporary instance.
run_regress()
{
	local src=$WORK/src out=$WORK/regress tests=() f log=$WORK/regress.log rc
	say "regression tests (pg_regress)"
	for f in sql/[0-9]*.sql; do
		[ -e "$f" ] && tests+=("$(basename "$f" .sql)")
	done
	if [ ${#tests[@]} -eq 0 ]; then
		echo "no sql/[0-9]*.sql yet: skipped"
		record regress 0 0 "skipped: no sql/[0-9]*.sql"
		return
	fi
	(cd "$src" && as_pg "$PG_REGRESS" \
		--temp-instance="$WORK/regress_instance" \
		--bindir="$PGBIN" \
		--inputdir="$src" \
		--outputdir="$out" \
		--temp-config="$src/test/regress.conf" \
		--no-locale --encoding=UTF8 \
		--dbname=contrib_regression \
		"${tests[@]}") 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count_pg_regress "$log" "$rc"
	record regress "$PASSED" "$FAILED"
	if [ "$rc" -ne 0 ]; then
		if [ -s "$out/regression.diffs" ]; then
			say "regression.diffs"
			cat "$out/regression.diffs"
		fi
		if [ -f "$out/log/postmaster.log" ]; then
			say "server log (last 60 lines)"
			tail -n 60 "$out/log/postmaster.log"
		fi
	fi
}

# TAP tests: prove over test/tap/*.pl with PostgreSQL's Perl test modules.
run_tap()
{
	local src=$WORK/src tapdir=$WORK/tap log=$WORK/tap.log rc files=() f name
	say "TAP tests"
	for f in test/tap/*.pl; do
		[ -e "$f" ] && files+=("$f")
	done
	if [ ${#files[@]} -eq 0 ]; then
		echo "no test/tap/*.pl yet: skipped"
		record tap 0 0 "skipped: no test/tap/*.pl"
		return
	fi
	as_pg mkdir -p "$tapdir"
	(cd "$src" && as_pg env -u REGRESS_SHLIB \
		PATH="$PGBIN:$PATH" \
		PG_REGRESS="$PG_REGRESS" \
		TESTDIR="$tapdir" \
		CS_SRCDIR="$src" \
		LC_ALL=C.UTF-8 \
		prove -I "$PERL_TESTLIB" "${files[@]}") 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	count_prove "$log" "$rc"
	record tap "$PASSED" "$FAILED"
	if [ "$rc" -ne 0 ]; then
		# The full log of each failed test program (its psql sessions, the servers' logs).
		sed -n 's/^\(test\/tap\/[^ ]*\)\.pl (Wstat:.*/\1/p' "$log" | while read -r name; do
			name=$(basename "$name")
			f=$tapdir/tmp_check/log/regress_log_$name
			if [ -f "$f" ]; then
				say "$f (last 80 lines)"
				tail -n 80 "$f"
			fi
		done
	fi
}

summary()
{
	local s
	if [ "${KEEP_TMP:-0}" = 1 ] || [ "$TOTAL_FAILED" -ne 0 ]; then
		KEEP_TMP=1
		[ -n "$WORK" ] && printf '\noutputs kept in %s\n' "$WORK"
	fi
	say "summary"
	for s in "${SUITES[@]}"; do
		echo "$s"
	done
	echo "$TOTAL_PASSED passed, $TOTAL_FAILED failed"
}

# On exit: remove the temporary directory unless summary() decided to keep it.
cleanup()
{
	if [ -n "$WORK" ] && [ -d "$WORK" ] && [ "${KEEP_TMP:-0}" != 1 ]; then
		rm -rf "$WORK"
	fi
}

# --- main --------------------------------------------------------------------------------------

main()
{
	say "packages"
	install_packages || exit 1
	if ! build; then
		echo "error: the build failed; no test was run" >&2
		record build 0 1
		summary
		exit 1
	fi

	WORK=$(mktemp -d "${TMPDIR:-/tmp}/credit_scoring_tests.XXXXXX") || exit 1
	chmod 755 "$WORK"
	trap cleanup EXIT

	run_lint
	run_unit
	make_copy
	run_regress
	run_tap
	summary
	[ "$TOTAL_FAILED" -eq 0 ]
}

main "$@"
