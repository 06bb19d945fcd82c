/*
 * strdict.c - string interning: byte strings (any bytes, explicit length) to
 * dense codes 0..n-1, with an open addressing (linear probing) hash table of
 * codes keyed by cs_fnv1a64.  The table is kept at most half full.
 */
#include <string.h>

#include "cs_core.h"

typedef struct strdict_entry
{
	char    *str; /* NUL-terminated copy */
	size_t   len;
	uint64_t hash;
} strdict_entry;

struct cs_strdict
{
	int32_t        n;       /* entries in use */
	int32_t        cap;     /* allocated entries */
	strdict_entry *entries; /* by code */
	size_t         n_slots; /* power of two */
	int32_t       *slots;   /* code, or -1 when empty */
};

#define STRDICT_MIN_SLOTS 16

/* A new, empty dictionary, or NULL when out of memory. */
cs_strdict *
cs_strdict_new(void)
{
	cs_strdict *d = cs_calloc(1, sizeof(cs_strdict));
	size_t      i;

	if (d == NULL)
		return NULL;
	d->slots = cs_malloc(STRDICT_MIN_SLOTS * sizeof(int32_t));
	if (d->slots == NULL)
	{
		cs_free(d);
		return NULL;
	}
	d->n_slots = STRDICT_MIN_SLOTS;
	for (i = 0; i < d->n_slots; i++)
		d->slots[i] = -1;
	return d;
}

/* Frees d and its copies; NULL is fine. */
void
cs_strdict_free(cs_strdict *d)
{
	int32_t i;

	if (d == NULL)
		return;
	for (i = 0; i < d->n; i++)
		cs_free(d->entries[i].str);
	cs_free(d->entries);
	cs_free(d->slots);
	cs_free(d);
}

/* The slot holding s, or the empty slot where it would go. */
static size_t
probe_slot(const cs_strdict *d, const char *s, size_t len, uint64_t hash)
{
	size_t mask = d->n_slots - 1;
	size_t i = (size_t) hash & mask;

	for (;;)
	{
		int32_t              code = d->slots[i];
		const strdict_entry *e;

		if (code < 0)
			return i;
		e = &d->entries[code];
		if (e->hash == hash && e->len == len && memcmp(e->str, s, len) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

/* Doubles the slot table and re-inserts every code; 0 when out of memory. */
static int
grow_slots(cs_strdict *d)
{
	size_t   n_slots = d->n_slots * 2;
	int32_t *slots = cs_malloc(cs_mul_size(n_slots, sizeof(int32_t)));
	size_t   i;
	int32_t  code;

	if (slots == NULL)
		return 0;
	for (i = 0; i < n_slots; i++)
		slots[i] = -1;
	for (code = 0; code < d->n; code++)
	{
		i = (size_t) d->entries[code].hash & (n_slots - 1);
		while (slots[i] >= 0)
			i = (i + 1) & (n_slots - 1);
		slots[i] = code;
	}
	cs_free(d->slots);
	d->slots = slots;
	d->n_slots = n_slots;
	return 1;
}

/* Makes room for one more entry; 0 when out of memory or full. */
static int
reserve_entry(cs_strdict *d)
{
	if (d->n == INT32_MAX - 1)
		return 0;
	if ((size_t) (d->n + 1) * 2 > d->n_slots && !grow_slots(d))
		return 0;
	if (d->n == d->cap)
	{
		int32_t        cap = d->cap < 8 ? 8 : (d->cap > INT32_MAX / 2 ? INT32_MAX - 1 : d->cap * 2);
		strdict_entry *entries =
			cs_realloc(d->entries, cs_mul_size((size_t) cap, sizeof(strdict_entry)));

		if (entries == NULL)
			return 0;
		d->entries = entries;
		d->cap = cap;
	}
	return 1;
}

/* The code of s, adding a copy when new; -1 when out of memory. */
int32_t
cs_strdict_intern(cs_strdict *d, const char *s, size_t len)
{
	uint64_t hash = cs_fnv1a64(s, len);
	size_t   slot = probe_slot(d, s, len, hash);
	char    *copy;
	int32_t  code;

	if (d->slots[slot] >= 0)
		return d->slots[slot];
	if (len == SIZE_MAX || !reserve_entry(d))
		return -1;
	copy = cs_malloc(len + 1);
	if (copy == NULL)
		return -1;
	if (len > 0)
		memcpy(copy, s, len);
	copy[len] = '\0';
	/* the table may have grown: find the empty slot again */
	slot = probe_slot(d, s, len, hash);
	code = d->n++;
	d->entries[code].str = copy;
	d->entries[code].len = len;
	d->entries[code].hash = hash;
	d->slots[slot] = code;
	return code;
}

/* The code of s, or -1 when absent. */
int32_t
cs_strdict_find(const cs_strdict *d, const char *s, size_t len)
{
	return d->slots[probe_slot(d, s, len, cs_fnv1a64(s, len))];
}

/* The number of distinct strings. */
int32_t
cs_strdict_size(const cs_strdict *d)
{
	return d->n;
}

/* The string of code (NULL when out of range) and its length in *len. */
const char *
cs_strdict_get(const cs_strdict *d, int32_t code, size_t *len)
{
	if (code < 0 || code >= d->n)
	{
		if (len != NULL)
			*len = 0;
		return NULL;
	}
	if (len != NULL)
		*len = d->entries[code].len;
	return d->entries[code].str;
}
