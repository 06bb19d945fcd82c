/*
 * model_cache.c - the per-backend cache of decoded models.
 *
 * Decoding a blob (checksum, validation, preparing lookups) happens once per
 * backend and model, not per row or per query.  A registry model is keyed by
 * its model id and the xmin of its registry row, which any UPDATE changes, so
 * an edited or replaced blob is decoded afresh without an invalidation
 * callback.  A blob passed by value (cs_predict(bytea, ...)) is keyed by its
 * header's length and checksum, and the entry keeps a copy of its bytes: a
 * later blob is taken for the cached one only if its bytes are equal, so a
 * damaged copy of a cached blob is still rejected.  The cache is bounded by
 * credit_scoring.model_cache_size: the least recently used entries that no
 * running query holds are evicted.
 */
#include "postgres.h"

#include "lib/ilist.h"
#include "utils/catcache.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "credit_scoring.h"

typedef struct CsCacheKey
{
	int64  model_id; /* -1 for blobs passed by value */
	uint64 identity; /* registry: xmin; by value: cs_blob_identity */
} CsCacheKey;

typedef struct CsCachedModel
{
	CsCacheKey key;   /* hash key: must be first */
	cs_model  *model; /* malloc'd by the core */
	bytea     *blob;  /* by value only: a copy of the bytes */
	Size       bytes;
	int        pins;
	dlist_node lru; /* most recently used at the head */
} CsCachedModel;

typedef struct CsCachePin
{
	MemoryContextCallback cb;
	CsCachedModel        *entry;
} CsCachePin;

static HTAB         *model_cache = NULL;
static MemoryContext cache_mcxt = NULL;
static dlist_head    cache_lru = DLIST_STATIC_INIT(cache_lru);
static Size          cache_bytes = 0;

/* Creates the hash table under CacheMemoryContext. */
static void
cache_init(void)
{
	HASHCTL ctl;

	if (CacheMemoryContext == NULL)
		CreateCacheMemoryContext();
	cache_mcxt =
		AllocSetContextCreate(CacheMemoryContext, "credit_scoring models", ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(CsCacheKey);
	ctl.entrysize = sizeof(CsCachedModel);
	ctl.hcxt = cache_mcxt;
	model_cache =
		hash_create("credit_scoring model cache", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Frees an entry's contents and removes it. */
static void
cache_remove(CsCachedModel *e)
{
	dlist_delete(&e->lru);
	cache_bytes -= e->bytes;
	cs_model_free(e->model);
	if (e->blob)
		pfree(e->blob);
	hash_search(model_cache, &e->key, HASH_REMOVE, NULL);
}

/* Evicts unpinned entries, oldest first, until the cache fits its bound. */
static void
cache_evict(Size incoming)
{
	Size        limit = (Size) cs_model_cache_size_mb * 1024 * 1024;
	dlist_node *cur = dlist_is_empty(&cache_lru) ? NULL : dlist_tail_node(&cache_lru);

	while (cur != NULL && cache_bytes + incoming > limit)
	{
		dlist_node *prev =
			dlist_has_prev(&cache_lru, cur) ? dlist_prev_node(&cache_lru, cur) : NULL;
		CsCachedModel *e = dlist_container(CsCachedModel, lru, cur);

		if (e->pins == 0)
			cache_remove(e);
		cur = prev;
	}
}

/* Unpins an entry when the query that used it ends. */
static void
cache_unpin(void *arg)
{
	CsCachePin *pin = (CsCachePin *) arg;

	pin->entry->pins--;
}

/* Pins entry until owner is reset, and marks it most recently used. */
static const cs_model *
cache_pin(CsCachedModel *entry, MemoryContext owner)
{
	CsCachePin *pin = MemoryContextAlloc(owner, sizeof(CsCachePin));

	dlist_delete(&entry->lru);
	dlist_push_head(&cache_lru, &entry->lru);
	pin->entry = entry;
	pin->cb.func = cache_unpin;
	pin->cb.arg = pin;
	MemoryContextRegisterResetCallback(owner, &pin->cb);
	entry->pins++;
	return entry->model;
}

/* Decodes a blob and enters it under key; the blob is copied when keep_blob. */
static CsCachedModel *
cache_insert(const CsCacheKey *key, bytea *blob, bool keep_blob, const char *label)
{
	cs_model      *model = NULL;
	cs_error       err;
	CsCachedModel *entry;
	Size           bytes = 2 * VARSIZE_ANY(blob) + 1024; /* decoded size, roughly */
	bool           found;

	if (cs_blob_decode((const uint8_t *) VARDATA_ANY(blob),
					   VARSIZE_ANY_EXHDR(blob),
					   &model,
					   &err) != CS_OK)
		cs_raise_core_error(&err, label);
	if (keep_blob)
		bytes += VARSIZE_ANY(blob);
	cache_evict(bytes);
	entry = hash_search(model_cache, key, HASH_ENTER, &found);
	entry->model = model;
	entry->blob = NULL;
	if (keep_blob)
	{
		entry->blob = MemoryContextAlloc(cache_mcxt, VARSIZE_ANY(blob));
		memcpy(entry->blob, blob, VARSIZE_ANY(blob));
	}
	entry->bytes = bytes;
	entry->pins = 0;
	dlist_push_head(&cache_lru, &entry->lru);
	cache_bytes += bytes;
	return entry;
}

/* The decoded model of registry row model_id as of its xmin. */
const cs_model *
cs_cache_get(int64 model_id, uint64 xmin, MemoryContext owner, const char *label)
{
	CsCacheKey     key;
	CsCachedModel *entry;

	if (model_cache == NULL)
		cache_init();
	memset(&key, 0, sizeof(key));
	key.model_id = model_id;
	key.identity = xmin;
	entry = hash_search(model_cache, &key, HASH_FIND, NULL);
	if (entry == NULL)
		entry = cache_insert(&key, cs_registry_fetch_blob(model_id), false, label);
	return cache_pin(entry, owner);
}

/* True when two varlena byte strings are equal. */
static bool
same_bytes(const bytea *a, const bytea *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		   memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

/* The decoded model of a blob passed by value. */
const cs_model *
cs_cache_get_blob(bytea *blob, MemoryContext owner, const bytea **copy)
{
	CsCacheKey     key;
	CsCachedModel *entry;

	if (model_cache == NULL)
		cache_init();
	memset(&key, 0, sizeof(key));
	key.model_id = -1;
	key.identity = cs_blob_identity((const uint8_t *) VARDATA_ANY(blob), VARSIZE_ANY_EXHDR(blob));
	entry = hash_search(model_cache, &key, HASH_FIND, NULL);
	if (entry != NULL && !same_bytes(entry->blob, blob))
	{
		cs_model *check = NULL;
		cs_error  err;

		/* same header, other bytes: damaged (the error says how) or a collision */
		if (cs_blob_decode((const uint8_t *) VARDATA_ANY(blob),
						   VARSIZE_ANY_EXHDR(blob),
						   &check,
						   &err) != CS_OK)
			cs_raise_core_error(&err, NULL);
		cs_model_free(check);
		if (entry->pins > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("two different model blobs with the same checksum in one query")));
		cache_remove(entry);
		entry = NULL;
	}
	if (entry == NULL)
		entry = cache_insert(&key, blob, true, NULL);
	*copy = entry->blob;
	return cache_pin(entry, owner);
}
