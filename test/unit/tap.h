/*
 * tap.h - a minimal TAP producer for the unit tests.
 *
 * Results are buffered so that the plan "1..N" can come first; failures are
 * also reported on stderr at once, so a crash still shows how far it got.
 */
#ifndef CS_TAP_H
#define CS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char  *tap_lines;
static size_t tap_len;
static size_t tap_cap;
static int    tap_count;
static int    tap_failed;

/* Appends one line to the buffered output. */
static void
tap_append(const char *line)
{
	size_t len = strlen(line);

	if (tap_len + len + 2 > tap_cap)
	{
		tap_cap = (tap_cap + len + 2) * 2;
		tap_lines = realloc(tap_lines, tap_cap);
		if (tap_lines == NULL)
			abort();
	}
	memcpy(tap_lines + tap_len, line, len);
	tap_len += len;
	tap_lines[tap_len++] = '\n';
}

/* Records one test result; returns passed. */
static int
tap_ok(int passed, const char *fmt, ...)
{
	char    desc[900];
	char    line[1000];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	tap_count++;
	snprintf(line, sizeof(line), "%s %d - %s", passed ? "ok" : "not ok", tap_count, desc);
	tap_append(line);
	if (!passed)
	{
		tap_failed++;
		fprintf(stderr, "# FAILED %d - %s\n", tap_count, desc);
	}
	return passed;
}

/* Prints the plan and the results; the exit status for main. */
static int
tap_finish(void)
{
	printf("1..%d\n", tap_count);
	if (tap_len > 0)
		fwrite(tap_lines, 1, tap_len, stdout);
	free(tap_lines);
	return tap_failed == 0 ? 0 : 1;
}

#endif
