/*
 * alloc.c - the core's allocator interface and error recording.
 *
 * The core allocates through these wrappers only, so that one place decides
 * how memory is obtained and that size overflows become allocation failures.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cs_core.h"

/* Records code and a formatted message in err (when given); returns code. */
cs_status
cs_fail(cs_error *err, cs_status code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return code;
}

/* malloc that refuses SIZE_MAX (an overflowed size) and never returns NULL for 0. */
void *
cs_malloc(size_t size)
{
	if (size == SIZE_MAX)
		return NULL;
	return malloc(size == 0 ? 1 : size);
}

/* calloc with an overflow check on n * size. */
void *
cs_calloc(size_t n, size_t size)
{
	size_t total = cs_mul_size(n, size);

	if (total == SIZE_MAX)
		return NULL;
	return calloc(total == 0 ? 1 : total, 1);
}

/* realloc that refuses SIZE_MAX; the old block survives a failure. */
void *
cs_realloc(void *ptr, size_t size)
{
	if (size == SIZE_MAX)
		return NULL;
	return realloc(ptr, size == 0 ? 1 : size);
}

/* free; NULL is fine. */
void
cs_free(void *ptr)
{
	free(ptr);
}

/* n * size, or SIZE_MAX when the product overflows. */
size_t
cs_mul_size(size_t n, size_t size)
{
	if (size != 0 && n > (SIZE_MAX - 1) / size)
		return SIZE_MAX;
	return n * size;
}
