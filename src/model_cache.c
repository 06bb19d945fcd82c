/*
 * model_cache.c - the per-backend cache of decoded models.
 *
 * Decoding a blob (checksum, validation, preparing lookups) happens once per
 * backend and model, not per row or per query.  Entries are keyed by the
 * model id and the blob's identity (its length and checksum), so a blob that
 * is replaced in the registry is decoded afresh; no invalidation callback is
 * needed.  The cache is bounded by credit_scoring.model_cache_size: the least
 * recently used entries that no running query holds are evicted.
 */
#include "postgres.h"

#include "lib/ilist.h"
#include "utils/hsearch.h"
#include "utils/catcache.h"
#include "utils/memutils.h"

#include "credit_scoring.h"

typedef struct CsCacheKey
{
	int64  model_id; /* -1 for blobs passed directly */
	uint64 identity;
} CsCacheKey;

struct CsCachedModel
{
	CsCacheKey key;   /* hash key: must be first */
	cs_model  *model; /* malloc'd by the core */
	Size       bytes;
	int        pins;
	dlist_node lru; /* most recently used at the head */
};

typedef struct CsCachePin
{
	MemoryContextCallback cb;
	CsCachedModel        *entry;
} CsCachePin;

static HTAB      *model_cache = NULL;
static dlist_head cache_lru = DLIST_STATIC_INIT(cache_lru);
static Size       cache_bytes = 0;

/* Creates the hash table under CacheMemoryContext. */
static void
cache_init(void)
{
	HASHCTL ctl;

	if (CacheMemoryContext == NULL)
		CreateCacheMemoryContext();
	ctl.keysize = sizeof(CsCacheKey);
	ctl.entrysize = sizeof(CsCachedModel);
	ctl.hcxt = CacheMemoryContext;
	model_cache =
		hash_create("credit_scoring model cache", 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
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
		{
			dlist_delete(&e->lru);
			cache_bytes -= e->bytes;
			cs_model_free(e->model);
			hash_search(model_cache, &e->key, HASH_REMOVE, NULL);
		}
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

/* Decodes a blob, raising the core's error. */
static cs_model *
decode_blob(bytea *blob, const char *label)
{
	cs_model *model = NULL;
	cs_error  err;

	if (cs_blob_decode((const uint8_t *) VARDATA_ANY(blob),
					   VARSIZE_ANY_EXHDR(blob),
					   &model,
					   &err) != CS_OK)
		cs_raise_core_error(&err, label);
	return model;
}

/*
 * Returns the decoded model for (model_id, identity), decoding blob (which
 * may be NULL, then fetched by model_id) on a miss.  The entry is pinned
 * until the memory context "owner" is reset or deleted.
 */
const cs_model *
cs_cache_get(int64 model_id, uint64 identity, bytea *blob, MemoryContext owner, const char *label)
{
	CsCacheKey     key;
	CsCachedModel *entry;
	CsCachePin    *pin;
	bool           found;

	if (model_cache == NULL)
		cache_init();
	memset(&key, 0, sizeof(key));
	key.model_id = model_id;
	key.identity = identity;
	entry = hash_search(model_cache, &key, HASH_FIND, NULL);
	if (entry == NULL)
	{
		cs_model *model;
		Size      bytes;

		if (blob == NULL)
			blob = cs_registry_fetch_blob(model_id);
		/* the decoded model takes about twice the blob's size */
		bytes = 2 * VARSIZE_ANY_EXHDR(blob) + 1024;
		model = decode_blob(blob, label);
		cache_evict(bytes);
		entry = hash_search(model_cache, &key, HASH_ENTER, &found);
		entry->model = model;
		entry->bytes = bytes;
		entry->pins = 0;
		dlist_push_head(&cache_lru, &entry->lru);
		cache_bytes += bytes;
	}
	else
	{
		dlist_delete(&entry->lru);
		dlist_push_head(&cache_lru, &entry->lru);
	}

	pin = MemoryContextAlloc(owner, sizeof(CsCachePin));
	pin->entry = entry;
	pin->cb.func = cache_unpin;
	pin->cb.arg = pin;
	MemoryContextRegisterResetCallback(owner, &pin->cb);
	entry->pins++;
	return entry->model;
}
