/*
 * binning.c - quantile cut points, the binned input matrix, gradient histograms.
 *
 * The cut points are those of XGBoost 1.7's hist method, reproduced step by
 * step (src/common/quantile.{h,cc}: HostSketchContainer, WQuantileSketch,
 * WQSummary) so that both see the same bins and find the same splits.  Per
 * feature, the non-missing training values, as floats, in row order:
 *
 *   1. stream through the weighted quantile sketch (Chen & Guestrin 2016,
 *      appendix) with eps = 1 / (8 min(max_bin, n)): values enter a queue of
 *      2 limit_size entries (consecutive equal values share an entry); a full
 *      queue is sorted into a summary (distinct values with rank bounds rmin,
 *      rmax and weight wmin, in single precision) and merged up a hierarchy
 *      of levels of limit_size entries, pruning by rank (SetPrune) and
 *      combining (SetCombine) as XGBoost does;
 *   2. the final summary is pruned to min(n, 8 max_bin) entries (the
 *      "intermediate" cuts), then to min(that, max_bin) + 1 entries;
 *   3. cuts = entries 1 .. min(size, max_bin) - 1 (increasing), then one value
 *      above the maximum, v_max + |v_max| + 1e-5.
 *
 * When a column's values fit the queue (about 4,000 rows at 256 bins) the
 * summary is exact, and with fewer distinct values than bins every distinct
 * value has its own bin, so that a split "x < v_k" separates consecutive
 * values exactly.  Beyond, the sketch is an approximation, the same as
 * XGBoost's because it is fed in the same order.
 *
 * A value's bin is the index of the first cut above it (upper_bound), the last
 * bin for values beyond the last cut; a missing value has the reserved bin
 * n_bins.  Columns are stored one after another, one or two bytes per bin.
 */
#include <math.h>
#include <string.h>

#include "cs_trees.h"

#define ROW_CHUNK   8192        /* rows per binning task */
#define KEY_MISSING 0xFFFFFFFFu /* the sort key of NaN: after every number */
#define MAX_LEVELS  64

/* One entry of XGBoost's weighted quantile summary (WQSummary::Entry). */
typedef struct wq_entry
{
	float rmin;
	float rmax;
	float wmin;
	float value;
} wq_entry;

/* Describes row-major inputs (n x n_features) with their labels. */
void
cs_tree_data_rows(cs_tree_data *d, const double *inputs, size_t n, int32_t n_features,
				  const uint8_t *y)
{
	d->x = inputs;
	d->row_stride = (size_t) n_features;
	d->col_stride = 1;
	d->n = n;
	d->n_features = n_features;
	d->y = y;
}

/* ------------------------------------------------------------ sort keys */

/* A float's bits mapped so that unsigned order is numeric order; NaN last. */
static inline uint32_t
float_key(double x)
{
	float    f;
	uint32_t u;

	if (isnan(x))
		return KEY_MISSING;
	f = (float) x;
	if (f == 0.0f)
		f = 0.0f; /* -0 sorts with +0 */
	memcpy(&u, &f, sizeof(u));
	return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

/* The float of a sort key. */
static inline float
key_float(uint32_t k)
{
	uint32_t u = (k & 0x80000000u) ? k & 0x7FFFFFFFu : ~k;
	float    f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* Sorts n (key << 32 | count) entries by key: LSD radix sort, 4 passes of 8 bits. */
static void
radix_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
	size_t    count[256];
	uint64_t *src = a;
	uint64_t *dst = tmp;
	int       shift;
	size_t    i;

	for (shift = 32; shift < 64; shift += 8)
	{
		size_t    sum = 0;
		uint64_t *t;

		memset(count, 0, sizeof(count));
		for (i = 0; i < n; i++)
			count[(src[i] >> shift) & 255]++;
		for (i = 0; i < 256; i++)
		{
			size_t c = count[i];

			count[i] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			dst[count[(src[i] >> shift) & 255]++] = src[i];
		t = src;
		src = dst;
		dst = t;
	}
	/* four passes: the sorted entries are back in a */
}

/* upper_bound over the nb >= 1 cut values c, clamped to the last bin (branch-free halving). */
static inline uint32_t
search_bin(const float *c, uint32_t nb, float v)
{
	const float *base = c;
	uint32_t     n = nb;
	uint32_t     i;

	while (n > 1)
	{
		uint32_t half = n / 2;

		base = base[half] <= v ? base + half : base;
		n -= half;
	}
	i = (uint32_t) (base - c) + (*base <= v);
	return i == nb ? nb - 1 : i;
}

/* ------------------------------------------------------------ XGBoost's summary */

/* WQSummary::SetPrune: at most about maxsize entries of src spread by rank (dst != src). */
static size_t
wq_prune(const wq_entry *src, size_t src_size, wq_entry *dst, size_t maxsize)
{
	float  begin;
	float  range;
	size_t n;
	size_t size;
	size_t i = 1;
	size_t lastidx = 0;
	size_t k;

	if (src_size <= maxsize)
	{
		memcpy(dst, src, src_size * sizeof(wq_entry));
		return src_size;
	}
	begin = src[0].rmax;
	range = src[src_size - 1].rmin - src[0].rmax;
	n = maxsize - 1;
	dst[0] = src[0];
	size = 1;
	for (k = 1; k < n; k++)
	{
		float dx2 = 2.0f * (((float) k * range) / (float) n + begin);

		while (i < src_size - 1 && dx2 >= src[i + 1].rmax + src[i + 1].rmin)
			i++;
		if (i == src_size - 1)
			break;
		if (dx2 < (src[i].rmin + src[i].wmin) + (src[i + 1].rmax - src[i + 1].wmin))
		{
			if (i != lastidx)
			{
				dst[size++] = src[i];
				lastidx = i;
			}
		}
		else if (i + 1 != lastidx)
		{
			dst[size++] = src[i + 1];
			lastidx = i + 1;
		}
	}
	if (lastidx != src_size - 1)
		dst[size++] = src[src_size - 1];
	return size;
}

/* An entry from its parts. */
static inline wq_entry
wq_make(float rmin, float rmax, float wmin, float value)
{
	wq_entry e;

	e.rmin = rmin;
	e.rmax = rmax;
	e.wmin = wmin;
	e.value = value;
	return e;
}

/* WQSummary::SetCombine: merges two summaries into dst (room for na + nb), with FixError. */
static size_t
wq_combine(const wq_entry *a, size_t na, const wq_entry *b, size_t nb, wq_entry *dst)
{
	const wq_entry *a_end = a + na;
	const wq_entry *b_end = b + nb;
	float           aprev_rmin = 0.0f;
	float           bprev_rmin = 0.0f;
	float           prev_rmin = 0.0f;
	float           prev_rmax = 0.0f;
	size_t          size = 0;
	size_t          i;

	if (na == 0 || nb == 0)
	{
		memcpy(dst, na == 0 ? b : a, (na == 0 ? nb : na) * sizeof(wq_entry));
		return na == 0 ? nb : na;
	}
	while (a != a_end && b != b_end)
	{
		if (a->value == b->value)
		{
			dst[size++] =
				wq_make(a->rmin + b->rmin, a->rmax + b->rmax, a->wmin + b->wmin, a->value);
			aprev_rmin = a->rmin + a->wmin;
			bprev_rmin = b->rmin + b->wmin;
			a++;
			b++;
		}
		else if (a->value < b->value)
		{
			dst[size++] =
				wq_make(a->rmin + bprev_rmin, a->rmax + (b->rmax - b->wmin), a->wmin, a->value);
			aprev_rmin = a->rmin + a->wmin;
			a++;
		}
		else
		{
			dst[size++] =
				wq_make(b->rmin + aprev_rmin, b->rmax + (a->rmax - a->wmin), b->wmin, b->value);
			bprev_rmin = b->rmin + b->wmin;
			b++;
		}
	}
	for (; a != a_end; a++)
		dst[size++] = wq_make(a->rmin + bprev_rmin, a->rmax + (b_end - 1)->rmax, a->wmin, a->value);
	for (; b != b_end; b++)
		dst[size++] = wq_make(b->rmin + aprev_rmin, b->rmax + (a_end - 1)->rmax, b->wmin, b->value);
	/* FixError: restore the rank invariants after rounding */
	for (i = 0; i < size; i++)
	{
		if (dst[i].rmin < prev_rmin)
			dst[i].rmin = prev_rmin;
		else
			prev_rmin = dst[i].rmin;
		if (dst[i].rmax < prev_rmax)
			dst[i].rmax = prev_rmax;
		if (dst[i].rmax < dst[i].rmin + dst[i].wmin)
			dst[i].rmax = dst[i].rmin + dst[i].wmin;
		prev_rmax = dst[i].rmax;
	}
	return size;
}

/* LimitSizeLevel: the size of one level of XGBoost's sketch for maxn values. */
static size_t
sketch_limit_size(size_t maxn, double eps)
{
	size_t nlevel = 1;
	size_t limit;

	for (;;)
	{
		limit = (size_t) ceil((double) nlevel / eps) + 1;
		if (limit > maxn)
			limit = maxn;
		if ((((size_t) 1) << nlevel) * limit >= maxn || nlevel >= 60)
			break;
		nlevel++;
	}
	return limit;
}

/* ------------------------------------------------------------ the streaming sketch */

/* WQuantileSketch of one feature, on per-thread scratch. */
typedef struct sketch
{
	size_t    limit;     /* limit_size */
	uint64_t *queue;     /* 2 limit entries: key << 32 | count */
	uint64_t *queue_tmp; /* radix sort scratch */
	size_t    qtail;
	wq_entry *temp; /* 2 limit */
	wq_entry *out;  /* 2 limit */
	wq_entry *levels;
	size_t    level_cap; /* levels allocated */
	size_t    n_levels;  /* levels initialised (XGBoost's level.size()) */
	size_t    level_size[MAX_LEVELS];
} sketch;

/* Queue::MakeSummary: sorts the queue and writes its exact summary to out. */
static size_t
sketch_make_summary(sketch *s, wq_entry *out)
{
	float  wsum = 0.0f;
	size_t size = 0;
	size_t i;

	radix_sort(s->queue, s->queue_tmp, s->qtail);
	for (i = 0; i < s->qtail;)
	{
		uint32_t key = (uint32_t) (s->queue[i] >> 32);
		float    w = (float) (uint32_t) s->queue[i];
		size_t   j = i + 1;

		for (; j < s->qtail && (uint32_t) (s->queue[j] >> 32) == key; j++)
			w += (float) (uint32_t) s->queue[j];
		out[size++] = wq_make(wsum, wsum + w, w, key_float(key));
		wsum += w;
		i = j;
	}
	return size;
}

/* Level l's entries. */
static inline wq_entry *
sketch_level(sketch *s, size_t l)
{
	return s->levels + l * s->limit;
}

/* InitLevel: makes at least n levels; 0 when out of memory. */
static int
sketch_init_levels(sketch *s, size_t n)
{
	if (n > MAX_LEVELS)
		return 0;
	if (n > s->level_cap)
	{
		wq_entry *p =
			cs_realloc(s->levels, cs_mul_size(cs_mul_size(n, s->limit), sizeof(wq_entry)));

		if (p == NULL)
			return 0;
		s->levels = p;
		s->level_cap = n;
	}
	while (s->n_levels < n)
		s->level_size[s->n_levels++] = 0;
	return 1;
}

/* PushTemp: merges the summary in temp up the levels; 0 when out of memory. */
static int
sketch_push_temp(sketch *s, size_t temp_size)
{
	size_t l;

	for (l = 1;; l++)
	{
		if (!sketch_init_levels(s, l + 1))
			return 0;
		if (s->level_size[l] == 0)
		{
			s->level_size[l] = wq_prune(s->temp, temp_size, sketch_level(s, l), s->limit);
			return 1;
		}
		s->level_size[0] = wq_prune(s->temp, temp_size, sketch_level(s, 0), s->limit);
		temp_size = wq_combine(sketch_level(s, 0),
							   s->level_size[0],
							   sketch_level(s, l),
							   s->level_size[l],
							   s->temp);
		if (temp_size > s->limit)
			s->level_size[l] = 0; /* carry on to the next level */
		else
		{
			memcpy(sketch_level(s, l), s->temp, temp_size * sizeof(wq_entry));
			s->level_size[l] = temp_size;
			return 1;
		}
	}
}

/* Push: adds one value (as a sort key); 0 when out of memory. */
static inline int
sketch_push(sketch *s, uint32_t key)
{
	if (s->qtail == 2 * s->limit && (uint32_t) (s->queue[s->qtail - 1] >> 32) != key)
	{
		size_t temp_size = sketch_make_summary(s, s->temp);

		s->qtail = 0;
		if (!sketch_push_temp(s, temp_size))
			return 0;
	}
	if (s->qtail == 0 || (uint32_t) (s->queue[s->qtail - 1] >> 32) != key)
		s->queue[s->qtail++] = ((uint64_t) key << 32) | 1;
	else
		s->queue[s->qtail - 1]++;
	return 1;
}

/* GetSummary: the final summary in s->out; its size. */
static size_t
sketch_summary(sketch *s)
{
	size_t size = sketch_make_summary(s, s->out);
	size_t l;

	if (s->n_levels != 0)
	{
		s->level_size[0] = wq_prune(s->out, size, sketch_level(s, 0), s->limit);
		for (l = 1; l < s->n_levels; l++)
		{
			if (s->level_size[l] == 0)
				continue;
			if (s->level_size[0] == 0)
			{
				memcpy(sketch_level(s, 0), sketch_level(s, l), s->level_size[l] * sizeof(wq_entry));
				s->level_size[0] = s->level_size[l];
			}
			else
			{
				size = wq_combine(sketch_level(s, 0),
								  s->level_size[0],
								  sketch_level(s, l),
								  s->level_size[l],
								  s->out);
				s->level_size[0] = wq_prune(s->out, size, sketch_level(s, 0), s->limit);
			}
		}
		memcpy(s->out, sketch_level(s, 0), s->level_size[0] * sizeof(wq_entry));
		return s->level_size[0];
	}
	if (size > s->limit)
	{
		size = wq_prune(s->out, size, s->temp, s->limit);
		memcpy(s->out, s->temp, size * sizeof(wq_entry));
	}
	return size;
}

/* Frees a sketch's buffers. */
static void
sketch_free(sketch *s)
{
	cs_free(s->queue);
	cs_free(s->queue_tmp);
	cs_free(s->temp);
	cs_free(s->out);
	cs_free(s->levels);
	memset(s, 0, sizeof(*s));
}

/* Sizes a sketch for a column of n values; 0 when out of memory. */
static int
sketch_init(sketch *s, size_t n, int32_t max_bin)
{
	size_t bins = (size_t) max_bin < n ? (size_t) max_bin : n;
	size_t limit = sketch_limit_size(n, 1.0 / (double) ((float) (bins > 0 ? bins : 1) * 8.0f));

	if (limit < 1)
		limit = 1;
	if (limit != s->limit || s->queue == NULL)
	{
		sketch_free(s);
		s->limit = limit;
		s->queue = cs_malloc(cs_mul_size(2 * limit, sizeof(uint64_t)));
		s->queue_tmp = cs_malloc(cs_mul_size(2 * limit, sizeof(uint64_t)));
		s->temp = cs_malloc(cs_mul_size(2 * limit, sizeof(wq_entry)));
		s->out = cs_malloc(cs_mul_size(2 * limit, sizeof(wq_entry)));
		if (s->queue == NULL || s->queue_tmp == NULL || s->temp == NULL || s->out == NULL)
			return 0;
	}
	s->qtail = 0;
	s->n_levels = 0;
	return 1;
}

/* ------------------------------------------------------------ learning cuts */

typedef struct cut_job
{
	const cs_tree_data *d;
	int32_t             max_bin;
	int                 ranges;   /* compute lo and hi */
	uint32_t           *keys;     /* n x n_features sort keys, column-major, row order */
	sketch             *sketches; /* per thread */
	wq_entry          **prune;    /* per thread: 2 limit entries */
	/* per feature results, max_bin + 1 floats each */
	float   *cuts;
	float   *lo;
	float   *hi;
	float   *min_values;
	int32_t *n_cuts; /* 0: out of memory */
} cut_job;

/* Fills the sort keys of one chunk of rows, every feature. */
static void
key_task(void *arg, size_t task, int thread)
{
	cut_job            *job = arg;
	const cs_tree_data *d = job->d;
	size_t              from = task * ROW_CHUNK;
	size_t              to = from + ROW_CHUNK < d->n ? from + ROW_CHUNK : d->n;
	int32_t             j;
	size_t              i;

	(void) thread;
	for (j = 0; j < d->n_features; j++)
	{
		uint32_t     *col = job->keys + (size_t) j * d->n;
		const double *x = d->x + (size_t) j * d->col_stride;

		for (i = from; i < to; i++)
			col[i] = float_key(x[i * d->row_stride]);
	}
}

/* The cut points of a summary (AllReduce, then MakeCuts and AddCutPoint). */
static void
summary_cuts(cut_job *job, int32_t j, size_t n_col, wq_entry *s, size_t size, wq_entry *t)
{
	size_t max_bin = (size_t) job->max_bin;
	float *cuts = job->cuts + (size_t) j * (max_bin + 1);
	size_t intermediate = (size_t) ((float) max_bin * 8.0f);
	size_t max_num_bins;
	size_t required;
	size_t i;
	int    nc = 0;
	float  top;

	if (n_col == 0)
	{
		/* an empty column: one bin */
		job->min_values[j] = 1e-5f;
		cuts[0] = 1e-5f + (fabsf(1e-5f) + 1e-5f);
		job->n_cuts[j] = 1;
		return;
	}
	if (intermediate > n_col)
		intermediate = n_col;
	size = wq_prune(s, size, t, intermediate);
	max_num_bins = intermediate < max_bin ? intermediate : max_bin;
	size = wq_prune(t, size, s, max_num_bins + 1);
	job->min_values[j] = s[0].value - fabsf(s[0].value) - 1e-5f;
	required = size < max_num_bins ? size : max_num_bins;
	for (i = 1; i < required; i++)
		if (i == 1 || s[i].value > cuts[nc - 1])
			cuts[nc++] = s[i].value;
	top = s[size - 1].value;
	cuts[nc++] = top + (fabsf(top) + 1e-5f);
	job->n_cuts[j] = nc;
}

/* The smallest and largest training value of each bin of feature j. */
static void
bin_ranges(cut_job *job, int32_t j, const uint32_t *col, size_t n)
{
	size_t   per = (size_t) job->max_bin + 1;
	float   *cuts = job->cuts + (size_t) j * per;
	float   *lo = job->lo + (size_t) j * per;
	float   *hi = job->hi + (size_t) j * per;
	uint32_t nb = (uint32_t) job->n_cuts[j];
	size_t   i;
	uint32_t b;

	for (b = 0; b < nb; b++)
	{
		lo[b] = INFINITY;
		hi[b] = -INFINITY;
	}
	for (i = 0; i < n; i++)
	{
		float v;

		if (col[i] == KEY_MISSING)
			continue;
		v = key_float(col[i]);
		b = search_bin(cuts, nb, v);
		if (v < lo[b])
			lo[b] = v;
		if (v > hi[b])
			hi[b] = v;
	}
	for (b = 0; b < nb; b++)
		if (lo[b] > hi[b])
			lo[b] = hi[b] = NAN; /* no training value */
}

/* Streams one feature through the sketch and derives its cuts. */
static void
cut_task(void *arg, size_t task, int thread)
{
	cut_job        *job = arg;
	size_t          n = job->d->n;
	int32_t         j = (int32_t) task;
	const uint32_t *col = job->keys + (size_t) j * n;
	sketch         *s = &job->sketches[thread];
	size_t          n_col = 0;
	size_t          size = 0;
	size_t          i;

	for (i = 0; i < n; i++)
		n_col += col[i] != KEY_MISSING;
	if (n_col > 0)
	{
		wq_entry *t;

		if (!sketch_init(s, n_col, job->max_bin))
		{
			job->n_cuts[j] = 0;
			return;
		}
		for (i = 0; i < n; i++)
			if (col[i] != KEY_MISSING && !sketch_push(s, col[i]))
			{
				job->n_cuts[j] = 0;
				return;
			}
		size = sketch_summary(s);
		t = cs_realloc(job->prune[thread], cs_mul_size(2 * s->limit, sizeof(wq_entry)));
		if (t == NULL)
		{
			job->n_cuts[j] = 0;
			return;
		}
		job->prune[thread] = t;
		summary_cuts(job, j, n_col, s->out, size, t);
	}
	else
		summary_cuts(job, j, 0, NULL, 0, NULL);
	if (job->ranges)
		bin_ranges(job, j, col, n);
}

/* Frees the scratch of a cut job. */
static void
free_cut_job(cut_job *job, int threads)
{
	int t;

	cs_free(job->keys);
	for (t = 0; t < threads; t++)
	{
		if (job->sketches != NULL)
			sketch_free(&job->sketches[t]);
		if (job->prune != NULL)
			cs_free(job->prune[t]);
	}
	cs_free(job->sketches);
	cs_free(job->prune);
	cs_free(job->cuts);
	cs_free(job->lo);
	cs_free(job->hi);
	cs_free(job->min_values);
	cs_free(job->n_cuts);
}

/* Learns the cut points of every feature on the rows of d (and each bin's range of values). */
cs_status
cs_bin_cuts_learn(const cs_tree_data *d, int32_t max_bin, int ranges, cs_pool *pool,
				  cs_bin_cuts *out, cs_error *err)
{
	cut_job  job;
	int      threads = cs_pool_threads(pool);
	size_t   nf = (size_t) (d->n_features > 0 ? d->n_features : 0);
	size_t   per = (size_t) max_bin + 1;
	size_t   total = 0;
	size_t   j;
	uint32_t k;

	memset(out, 0, sizeof(*out));
	memset(&job, 0, sizeof(job));
	if (max_bin < 2 || max_bin > CS_MAX_BIN_LIMIT)
		return cs_fail(err, CS_ERR_INVALID, "max_bin must be between 2 and %d", CS_MAX_BIN_LIMIT);
	if (d->n > UINT32_MAX)
		return cs_fail(err, CS_ERR_INVALID, "more than %u training rows", UINT32_MAX);
	job.d = d;
	job.max_bin = max_bin;
	job.ranges = ranges;
	job.keys = cs_malloc(cs_mul_size(cs_mul_size(d->n, nf), sizeof(uint32_t)));
	job.sketches = cs_calloc((size_t) threads, sizeof(sketch));
	job.prune = cs_calloc((size_t) threads, sizeof(wq_entry *));
	job.cuts = cs_malloc(cs_mul_size(cs_mul_size(nf, per), sizeof(float)));
	job.lo = cs_malloc(cs_mul_size(cs_mul_size(nf, per), sizeof(float)));
	job.hi = cs_malloc(cs_mul_size(cs_mul_size(nf, per), sizeof(float)));
	job.min_values = cs_malloc(cs_mul_size(nf, sizeof(float)));
	job.n_cuts = cs_malloc(cs_mul_size(nf, sizeof(int32_t)));
	if (job.keys == NULL || job.sketches == NULL || job.prune == NULL || job.cuts == NULL ||
		job.lo == NULL || job.hi == NULL || job.min_values == NULL || job.n_cuts == NULL)
		goto nomem;
	cs_pool_run(pool, (d->n + ROW_CHUNK - 1) / ROW_CHUNK, key_task, &job);
	cs_pool_run(pool, nf, cut_task, &job);
	for (j = 0; j < nf; j++)
		if (job.n_cuts[j] == 0)
			goto nomem;

	out->n_features = d->n_features;
	for (j = 0; j < nf; j++)
		total += (size_t) job.n_cuts[j];
	out->ptr = cs_malloc(cs_mul_size(nf + 1, sizeof(uint32_t)));
	out->values = cs_malloc(cs_mul_size(total, sizeof(float)));
	out->min_values = cs_malloc(cs_mul_size(nf, sizeof(float)));
	if (ranges)
	{
		out->lo = cs_malloc(cs_mul_size(total, sizeof(float)));
		out->hi = cs_malloc(cs_mul_size(total, sizeof(float)));
	}
	if (out->ptr == NULL || out->values == NULL || out->min_values == NULL ||
		(ranges && (out->lo == NULL || out->hi == NULL)))
	{
		cs_bin_cuts_free(out);
		goto nomem;
	}
	out->ptr[0] = 0;
	for (j = 0; j < nf; j++)
	{
		uint32_t start = out->ptr[j];

		out->min_values[j] = job.min_values[j];
		for (k = 0; k < (uint32_t) job.n_cuts[j]; k++)
		{
			out->values[start + k] = job.cuts[j * per + k];
			if (ranges)
			{
				out->lo[start + k] = job.lo[j * per + k];
				out->hi[start + k] = job.hi[j * per + k];
			}
		}
		out->ptr[j + 1] = start + (uint32_t) job.n_cuts[j];
	}
	free_cut_job(&job, threads);
	return CS_OK;

nomem:
	free_cut_job(&job, threads);
	return cs_fail(err,
				   CS_ERR_NOMEM,
				   "out of memory binning %zu rows of %d features",
				   d->n,
				   (int) d->n_features);
}

/* Frees what c owns (not c itself). */
void
cs_bin_cuts_free(cs_bin_cuts *c)
{
	if (c == NULL)
		return;
	cs_free(c->ptr);
	cs_free(c->values);
	cs_free(c->min_values);
	cs_free(c->lo);
	cs_free(c->hi);
	memset(c, 0, sizeof(*c));
}

/* The number of bins of feature j (its missing bin excluded). */
int32_t
cs_bin_count(const cs_bin_cuts *c, int32_t j)
{
	return (int32_t) (c->ptr[j + 1] - c->ptr[j]);
}

/* The bin of input x of feature j: n_bins(j) when x is NaN. */
uint32_t
cs_bin_of(const cs_bin_cuts *c, int32_t j, double x)
{
	uint32_t nb = c->ptr[j + 1] - c->ptr[j];

	if (isnan(x))
		return nb;
	return search_bin(c->values + c->ptr[j], nb, (float) x);
}

/* ------------------------------------------------------------ bin matrix */

typedef struct bin_job
{
	const cs_bin_cuts  *c;
	const cs_tree_data *d;
	cs_bin_matrix      *m;
	uint8_t            *missing; /* per chunk and feature: a NaN was seen */
} bin_job;

/* Notes which features have a missing value in one chunk of rows. */
static void
missing_task(void *arg, size_t task, int thread)
{
	bin_job            *job = arg;
	const cs_tree_data *d = job->d;
	uint8_t            *seen = job->missing + task * (size_t) d->n_features;
	size_t              from = task * ROW_CHUNK;
	size_t              to = from + ROW_CHUNK < d->n ? from + ROW_CHUNK : d->n;
	int32_t             j;
	size_t              i;

	(void) thread;
	for (i = from; i < to; i++)
	{
		const double *x = d->x + i * d->row_stride;

		for (j = 0; j < d->n_features; j++)
			seen[j] |= isnan(x[(size_t) j * d->col_stride]) != 0;
	}
}

/* Bins one chunk of rows, every feature. */
static void
bin_task(void *arg, size_t task, int thread)
{
	bin_job            *job = arg;
	const cs_tree_data *d = job->d;
	cs_bin_matrix      *m = job->m;
	size_t              from = task * ROW_CHUNK;
	size_t              to = from + ROW_CHUNK < d->n ? from + ROW_CHUNK : d->n;
	/* element (i, j) at data + i * row_step + offset[j] */
	int32_t j;
	size_t  i;

	(void) thread;
	for (j = 0; j < d->n_features; j++)
	{
		const float  *cuts = job->c->values + job->c->ptr[j];
		uint32_t      nb = job->c->ptr[j + 1] - job->c->ptr[j];
		const double *x = d->x + (size_t) j * d->col_stride;
		uint8_t      *base = m->data + m->offset[j];
		size_t        step = m->row_major ? m->row_bytes : m->width[j];

		for (i = from; i < to; i++)
		{
			double   v = x[i * d->row_stride];
			uint32_t b = isnan(v) ? nb : search_bin(cuts, nb, (float) v);

			if (m->width[j] == 1)
				base[i * step] = (uint8_t) b;
			else
			{
				uint16_t b16 = (uint16_t) b;

				memcpy(base + i * step, &b16, sizeof(b16));
			}
		}
	}
}

/* Bins the rows of d with the cuts c, column-major or row-major. */
cs_status
cs_bin_matrix_build(const cs_bin_cuts *c, const cs_tree_data *d, int row_major, cs_pool *pool,
					cs_bin_matrix *out, cs_error *err)
{
	bin_job job;
	size_t  nf = (size_t) (d->n_features > 0 ? d->n_features : 0);
	size_t  chunks = (d->n + ROW_CHUNK - 1) / ROW_CHUNK;
	size_t  bytes = 0;
	uint8_t wide = 1;
	size_t  j;
	size_t  k;

	memset(out, 0, sizeof(*out));
	if (d->n_features != c->n_features)
		return cs_fail(err,
					   CS_ERR_INVALID,
					   "the data have %d features, the cuts %d",
					   (int) d->n_features,
					   (int) c->n_features);
	out->n_rows = d->n;
	out->n_features = d->n_features;
	out->row_major = row_major ? 1 : 0;
	out->width = cs_malloc(nf > 0 ? nf : 1);
	out->offset = cs_malloc(cs_mul_size(nf > 0 ? nf : 1, sizeof(size_t)));
	if (out->width == NULL || out->offset == NULL)
	{
		cs_bin_matrix_free(out);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory binning %zu rows", d->n);
	}
	/* a column needs room for the missing bin only when it has a missing value */
	job.missing = cs_calloc(chunks > 0 ? chunks : 1, nf > 0 ? nf : 1);
	if (job.missing == NULL)
	{
		cs_bin_matrix_free(out);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory binning %zu rows", d->n);
	}
	job.d = d;
	cs_pool_run(pool, chunks, missing_task, &job);
	for (j = 0; j < nf; j++)
	{
		uint8_t missing = 0;

		for (k = 0; k < chunks; k++)
			missing |= job.missing[k * nf + j];
		out->width[j] = c->ptr[j + 1] - c->ptr[j] + missing <= 256 ? 1 : 2;
		if (out->width[j] == 2)
			wide = 2;
	}
	cs_free(job.missing);
	job.missing = NULL;
	if (row_major)
	{
		/* one width for the whole row */
		for (j = 0; j < nf; j++)
		{
			out->width[j] = wide;
			out->offset[j] = j * wide;
		}
		out->row_bytes = nf * wide;
		bytes = cs_mul_size(d->n, out->row_bytes);
	}
	else
		for (j = 0; j < nf; j++)
		{
			/* columns start on 64-byte boundaries */
			out->offset[j] = bytes;
			bytes += cs_mul_size(d->n, out->width[j]);
			bytes = bytes > SIZE_MAX - 64 ? SIZE_MAX : (bytes + 63) & ~(size_t) 63;
		}
	out->data = cs_malloc(bytes);
	if (out->data == NULL)
	{
		cs_bin_matrix_free(out);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory binning %zu rows", d->n);
	}
	job.c = c;
	job.m = out;
	cs_pool_run(pool, chunks, bin_task, &job);
	return CS_OK;
}

typedef struct transpose_job
{
	const cs_bin_matrix *cols;
	cs_bin_matrix       *rows;
} transpose_job;

/* Copies one chunk of rows from the columns into the rows. */
static void
transpose_task(void *arg, size_t task, int thread)
{
	transpose_job       *job = arg;
	const cs_bin_matrix *c = job->cols;
	cs_bin_matrix       *r = job->rows;
	size_t               from = task * ROW_CHUNK;
	size_t               to = from + ROW_CHUNK < c->n_rows ? from + ROW_CHUNK : c->n_rows;
	int32_t              j;
	size_t               i;

	(void) thread;
	for (j = 0; j < c->n_features; j++)
	{
		const uint8_t *src = c->data + c->offset[j];
		uint8_t       *dst = r->data + r->offset[j];

		if (r->width[j] == 1)
			for (i = from; i < to; i++)
				dst[i * r->row_bytes] = src[i];
		else if (c->width[j] == 1)
			for (i = from; i < to; i++)
			{
				uint16_t b16 = src[i];

				memcpy(dst + i * r->row_bytes, &b16, sizeof(b16));
			}
		else
			for (i = from; i < to; i++)
				memcpy(dst + i * r->row_bytes, src + 2 * i, 2);
	}
}

/* The row-major copy of a column-major matrix (every bin at the widest width). */
cs_status
cs_bin_matrix_rows(const cs_bin_matrix *cols, cs_pool *pool, cs_bin_matrix *out, cs_error *err)
{
	transpose_job job;
	size_t        nf = (size_t) (cols->n_features > 0 ? cols->n_features : 0);
	uint8_t       wide = 1;
	size_t        j;

	memset(out, 0, sizeof(*out));
	out->n_rows = cols->n_rows;
	out->n_features = cols->n_features;
	out->row_major = 1;
	for (j = 0; j < nf; j++)
		if (cols->width[j] == 2)
			wide = 2;
	out->width = cs_malloc(nf > 0 ? nf : 1);
	out->offset = cs_malloc(cs_mul_size(nf > 0 ? nf : 1, sizeof(size_t)));
	out->row_bytes = nf * wide;
	out->data = cs_malloc(cs_mul_size(cols->n_rows, out->row_bytes));
	if (out->width == NULL || out->offset == NULL || out->data == NULL)
	{
		cs_bin_matrix_free(out);
		return cs_fail(err, CS_ERR_NOMEM, "out of memory binning %zu rows", cols->n_rows);
	}
	for (j = 0; j < nf; j++)
	{
		out->width[j] = wide;
		out->offset[j] = j * wide;
	}
	job.cols = cols;
	job.rows = out;
	cs_pool_run(pool, (cols->n_rows + ROW_CHUNK - 1) / ROW_CHUNK, transpose_task, &job);
	return CS_OK;
}

/* Frees what m owns (not m itself). */
void
cs_bin_matrix_free(cs_bin_matrix *m)
{
	if (m == NULL)
		return;
	cs_free(m->width);
	cs_free(m->offset);
	cs_free(m->data);
	memset(m, 0, sizeof(*m));
}

typedef struct index_job
{
	cs_bin_matrix  *m;
	const uint32_t *hist_off;
} index_job;

/* Adds the histogram offsets to one chunk of rows. */
static void
index_task(void *arg, size_t task, int thread)
{
	index_job     *job = arg;
	cs_bin_matrix *m = job->m;
	size_t         from = task * ROW_CHUNK;
	size_t         to = from + ROW_CHUNK < m->n_rows ? from + ROW_CHUNK : m->n_rows;
	size_t         i;
	int32_t        j;

	(void) thread;
	for (i = from; i < to; i++)
	{
		uint8_t *row = m->data + i * m->row_bytes;

		for (j = 0; j < m->n_features; j++)
		{
			uint16_t b16;

			memcpy(&b16, row + 2 * (size_t) j, sizeof(b16));
			b16 = (uint16_t) (b16 + job->hist_off[j]);
			memcpy(row + 2 * (size_t) j, &b16, sizeof(b16));
		}
	}
}

/* Row-major two-byte bins to histogram indices, when they fit. */
int
cs_bin_matrix_index(cs_bin_matrix *m, const uint32_t *hist_off, cs_pool *pool)
{
	index_job job;
	int32_t   j;

	if (!m->row_major || m->indexed || m->n_features < 1 || m->width[0] != 2)
		return 0;
	/* the largest index: the last feature's missing bin, below its end */
	for (j = 0; j < m->n_features; j++)
		if (hist_off[j + 1] > 65536)
			return 0;
	job.m = m;
	job.hist_off = hist_off;
	cs_pool_run(pool, (m->n_rows + ROW_CHUNK - 1) / ROW_CHUNK, index_task, &job);
	m->indexed = 1;
	return 1;
}

/* The bin of row in feature j. */
uint32_t
cs_bin_get(const cs_bin_matrix *m, int32_t j, size_t row)
{
	const uint8_t *p = m->data + m->offset[j] + row * (m->row_major ? m->row_bytes : m->width[j]);
	uint16_t       b16;

	if (m->width[j] == 1)
		return *p;
	memcpy(&b16, p, sizeof(b16));
	return b16;
}

/* ------------------------------------------------------------ histograms */

/* Adds the ordered gradients gh of rows to the histogram of feature j (column-major). */
void
cs_hist_accumulate(const cs_bin_matrix *m, int32_t j, const uint32_t *rows, const cs_grad_pair *gh,
				   size_t n, cs_hist_bin *hist)
{
	size_t k;

	if (m->row_major)
	{
		for (k = 0; k < n; k++)
		{
			cs_hist_bin *b = &hist[cs_bin_get(m, j, rows[k])];

			b->g += gh[k].g;
			b->h += gh[k].h;
		}
	}
	else if (m->width[j] == 1)
	{
		const uint8_t *col = m->data + m->offset[j];

		for (k = 0; k < n; k++)
		{
			cs_hist_bin *b = &hist[col[rows[k]]];

			b->g += gh[k].g;
			b->h += gh[k].h;
		}
	}
	else
	{
		const uint16_t *col = (const uint16_t *) (m->data + m->offset[j]);

		for (k = 0; k < n; k++)
		{
			cs_hist_bin *b = &hist[col[rows[k]]];

			b->g += gh[k].g;
			b->h += gh[k].h;
		}
	}
}

#define PREFETCH_AHEAD 16

/* Adds the ordered gradients of rows to every feature's histogram (row-major m). */
void
cs_hist_accumulate_rows(const cs_bin_matrix *m, const uint32_t *hist_off, const uint32_t *rows,
						const cs_grad_pair *gh, size_t n, cs_hist_bin *hist)
{
	int32_t nf = m->n_features;
	size_t  stride = m->row_bytes;
	size_t  k;
	int32_t j;

	if (m->width[0] == 1)
	{
		for (k = 0; k < n; k++)
		{
			const uint8_t *rb = m->data + (size_t) rows[k] * stride;
			double         g = gh[k].g;
			double         h = gh[k].h;

#if defined(__GNUC__)
			if (k + PREFETCH_AHEAD < n)
				__builtin_prefetch(m->data + (size_t) rows[k + PREFETCH_AHEAD] * stride);
#endif
			for (j = 0; j < nf; j++)
			{
				cs_hist_bin *b = &hist[hist_off[j] + rb[j]];

				b->g += g;
				b->h += h;
			}
		}
	}
	else if (m->indexed)
	{
		/* the entries are the histogram indices: no offset to look up */
		for (k = 0; k < n; k++)
		{
			const uint16_t *rb = (const uint16_t *) (m->data + (size_t) rows[k] * stride);
			double          g = gh[k].g;
			double          h = gh[k].h;

#if defined(__GNUC__)
			if (k + PREFETCH_AHEAD < n)
				__builtin_prefetch(m->data + (size_t) rows[k + PREFETCH_AHEAD] * stride);
#endif
			for (j = 0; j < nf; j++)
			{
				cs_hist_bin *b = &hist[rb[j]];

				b->g += g;
				b->h += h;
			}
		}
	}
	else
	{
		for (k = 0; k < n; k++)
		{
			const uint16_t *rb = (const uint16_t *) (m->data + (size_t) rows[k] * stride);
			double          g = gh[k].g;
			double          h = gh[k].h;

#if defined(__GNUC__)
			if (k + PREFETCH_AHEAD < n)
				__builtin_prefetch(m->data + (size_t) rows[k + PREFETCH_AHEAD] * stride);
#endif
			for (j = 0; j < nf; j++)
			{
				cs_hist_bin *b = &hist[hist_off[j] + rb[j]];

				b->g += g;
				b->h += h;
			}
		}
	}
}

/* out = parent - child: the sibling's histogram. */
void
cs_hist_subtract(const cs_hist_bin *parent, const cs_hist_bin *child, cs_hist_bin *out, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
	{
		out[k].g = parent[k].g - child[k].g;
		out[k].h = parent[k].h - child[k].h;
	}
}
