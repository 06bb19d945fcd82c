/*
 * fairness.c - group fairness of approval decisions: the cs_fairness
 * aggregate (jsonb), its _partial/_merge pair, and cs_fairness(model,
 * relation, sensitive), one row per group for BI tools.  The figures are
 * computed by src/core/fairness.c.
 *
 * The state is a flat bytea, as DESIGN.md ("Aggregates") asks: a header,
 * the groups (their six counts), an open-addressing index of the groups by
 * the hash of their name, then the names' bytes (and the privileged group's
 * name, when the aggregate names one).  The transition function adds to the
 * state in place when called by an aggregate; when the state is full it
 * returns a larger copy (the executor copies a changed transition value
 * into the aggregate's context and frees the old one).  A state may come
 * from a user's bytea (cs_fairness_merge), so every state read is checked,
 * and index slots are bounds-checked where they are used.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "credit_scoring.h"
#include "cs_fairness.h"

PG_FUNCTION_INFO_V1(cs_fairness_step);
PG_FUNCTION_INFO_V1(cs_fairness_step_privileged);
PG_FUNCTION_INFO_V1(cs_fairness_combine);
PG_FUNCTION_INFO_V1(cs_fairness_merge_step);
PG_FUNCTION_INFO_V1(cs_fairness_state);
PG_FUNCTION_INFO_V1(cs_fairness_final);
PG_FUNCTION_INFO_V1(cs_fairness_relation);

#define FAIR_MAGIC     0x52494146 /* "FAIR" */
#define FAIR_NULL_NAME (-1)       /* name_len of the group of NULL names */
#define FAIR_GROUPS    8          /* initial room */
#define FAIR_NAMES     256

typedef struct FairState
{
	int32  vl_len_; /* varlena header */
	uint32 magic;
	int32  n_groups;
	int32  cap_groups;
	int32  n_slots; /* index slots: a power of two >= 2 cap_groups */
	int32  names_used;
	int32  names_cap;
	int32  privileged_off; /* into the names; -1 when none */
	int32  privileged_len;
	int32  reserved;
} FairState;

typedef struct FairGroup
{
	uint32         hash;
	int32          name_off;
	int32          name_len; /* FAIR_NULL_NAME for the NULL group */
	int32          reserved;
	cs_fair_counts c;
} FairGroup;

#define FAIR_GROUPS_OF(s) ((FairGroup *) ((char *) (s) + sizeof(FairState)))
#define FAIR_SLOTS_OF(s)  ((int32 *) (FAIR_GROUPS_OF(s) + (s)->cap_groups))
#define FAIR_NAMES_OF(s)  ((char *) (FAIR_SLOTS_OF(s) + (s)->n_slots))

/* The size of a state with these capacities. */
static Size
fair_size(int64 cap_groups, int64 n_slots, int64 names_cap)
{
	return sizeof(FairState) + cap_groups * sizeof(FairGroup) + n_slots * sizeof(int32) + names_cap;
}

/* ERROR for a bytea that is not a cs_fairness state. */
static void
invalid_state(const char *fname, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("%s expects the state of cs_fairness_partial", fname),
			 errdetail("The bytea given is not one: %s.", problem)));
}

/* Checks a state's header: its sizes and the privileged group's bounds. */
static void
check_header(const FairState *s, const char *fname)
{
	Size size = VARSIZE(s);

	if (size < sizeof(FairState))
		invalid_state(fname, "it is too short");
	if (s->magic != FAIR_MAGIC)
		invalid_state(fname, "it is not a cs_fairness state");
	if (s->n_groups < 0 || s->cap_groups < s->n_groups || s->n_slots < 2 * s->cap_groups ||
		(s->n_slots & (s->n_slots - 1)) != 0 || s->names_used < 0 || s->names_cap < s->names_used ||
		size != fair_size(s->cap_groups, s->n_slots, s->names_cap))
		invalid_state(fname, "its sizes are inconsistent");
	if (s->privileged_off != -1 && (s->privileged_off < 0 || s->privileged_len < 0 ||
									(int64) s->privileged_off + s->privileged_len > s->names_used))
		invalid_state(fname, "its privileged group is out of bounds");
}

/* Whether group g's name lies within the names of s. */
static inline bool
name_in_bounds(const FairState *s, const FairGroup *g)
{
	return g->name_len == FAIR_NULL_NAME || (g->name_len >= 0 && g->name_off >= 0 &&
											 (int64) g->name_off + g->name_len <= s->names_used);
}

/*
 * Checks a whole state read from outside: the header, and every group's name
 * and counts (its index is not trusted: it is rebuilt when copied, and
 * bounds-checked where it is used).
 */
static void
check_state(const FairState *s, const char *fname)
{
	const FairGroup *g;
	int32            i;

	check_header(s, fname);
	g = FAIR_GROUPS_OF(s);
	for (i = 0; i < s->n_groups; i++)
	{
		if (!name_in_bounds(s, &g[i]))
			invalid_state(fname, "a group name is out of bounds");
		if (!cs_fair_counts_valid(&g[i].c) || g[i].c.n == 0)
			invalid_state(fname, "a group's counts are inconsistent");
	}
}

/* A state argument, detoasted (aligned) and checked; NULL for the empty state. */
static FairState *
state_arg(FunctionCallInfo fcinfo, int argno, const char *fname)
{
	struct varlena *v = PG_DETOAST_DATUM(PG_GETARG_DATUM(argno));

	if (VARSIZE(v) == VARHDRSZ)
		return NULL;
	if ((uintptr_t) v % MAXIMUM_ALIGNOF != 0)
		v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(argno));
	check_state((FairState *) v, fname);
	return (FairState *) v;
}

/*
 * The transition state (argument 0), writable in place by an aggregate;
 * NULL while it is the empty initial state.
 */
static FairState *
own_state(FunctionCallInfo fcinfo, const char *fname)
{
	struct varlena *v = (struct varlena *) PG_GETARG_POINTER(0);

	if (!AggCheckCallContext(fcinfo, NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s can only be called by an aggregate", fname)));
	if (!VARATT_IS_4B_U(v) || (uintptr_t) v % MAXIMUM_ALIGNOF != 0)
		v = PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
	if (VARSIZE(v) == VARHDRSZ)
		return NULL;
	/* per row: the header only; names are bounds-checked where they are compared */
	check_header((FairState *) v, fname);
	return (FairState *) v;
}

/* The hash of a group name (NULL: the NULL group). */
static uint32
name_hash(const char *name, int32 len)
{
	if (len == FAIR_NULL_NAME)
		return 0x9E3779B9;
	return hash_bytes((const unsigned char *) name, len);
}

/* Whether group g of s has this name. */
static bool
group_is(const FairState *s, const FairGroup *g, uint32 hash, const char *name, int32 len)
{
	if (g->hash != hash || g->name_len != len || !name_in_bounds(s, g))
		return false;
	return len <= 0 || memcmp(FAIR_NAMES_OF(s) + g->name_off, name, len) == 0;
}

/* The index slot of a name: its group's slot, or the empty slot where it would go. */
static int32 *
find_slot(const FairState *s, uint32 hash, const char *name, int32 len)
{
	int32           *slots = FAIR_SLOTS_OF(s);
	const FairGroup *groups = FAIR_GROUPS_OF(s);
	uint32           mask = (uint32) s->n_slots - 1;
	uint32           i = hash & mask;
	int32            probes;

	for (probes = 0; probes < s->n_slots; probes++, i = (i + 1) & mask)
	{
		int32 k = slots[i];

		if (k < 0 || k >= s->n_groups)
			return &slots[i];
		if (group_is(s, &groups[k], hash, name, len))
			return &slots[i];
	}
	elog(ERROR, "cs_fairness state index is full");
	return NULL;
}

/* Rebuilds the index of s from its groups. */
static void
rebuild_index(FairState *s)
{
	int32 i;

	memset(FAIR_SLOTS_OF(s), 0xFF, s->n_slots * sizeof(int32));
	for (i = 0; i < s->n_groups; i++)
	{
		FairGroup *g = &FAIR_GROUPS_OF(s)[i];

		*find_slot(s, g->hash, g->name_len > 0 ? FAIR_NAMES_OF(s) + g->name_off : "", g->name_len) =
			i;
	}
}

/*
 * s (NULL: a new state) with room for one more group and extra more name
 * bytes: s itself, or a larger copy in the current memory context.
 */
static FairState *
fair_reserve(FairState *s, int32 extra_groups, int64 extra_names)
{
	int64      cap_groups = s ? s->cap_groups : 0;
	int64      names_cap = s ? s->names_cap : 0;
	int64      need_groups = (s ? s->n_groups : 0) + extra_groups;
	int64      need_names = (s ? s->names_used : 0) + extra_names;
	int64      n_slots;
	FairState *grown;

	if (s != NULL && need_groups <= cap_groups && need_names <= names_cap)
		return s;
	if (need_groups > cap_groups)
		cap_groups = Max(Max(cap_groups * 2, FAIR_GROUPS), need_groups);
	if (need_names > names_cap)
		names_cap = Max(Max(names_cap * 2, FAIR_NAMES), need_names);
	for (n_slots = 16; n_slots < 2 * cap_groups; n_slots *= 2)
		;
	if (fair_size(cap_groups, n_slots, names_cap) > MaxAllocSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("too many groups for cs_fairness: their names and "
						"counts exceed 1 GB"),
				 errhint("Group on fewer or shorter values.")));
	if (s)
		check_state(s, "cs_fairness"); /* once a growth: the copy rebuilds the index from it */
	grown = palloc0(fair_size(cap_groups, n_slots, names_cap));
	SET_VARSIZE(grown, fair_size(cap_groups, n_slots, names_cap));
	grown->magic = FAIR_MAGIC;
	grown->cap_groups = (int32) cap_groups;
	grown->n_slots = (int32) n_slots;
	grown->names_cap = (int32) names_cap;
	grown->privileged_off = -1;
	if (s)
	{
		grown->n_groups = s->n_groups;
		grown->names_used = s->names_used;
		grown->privileged_off = s->privileged_off;
		grown->privileged_len = s->privileged_len;
		memcpy(FAIR_GROUPS_OF(grown), FAIR_GROUPS_OF(s), s->n_groups * sizeof(FairGroup));
		memcpy(FAIR_NAMES_OF(grown), FAIR_NAMES_OF(s), s->names_used);
	}
	rebuild_index(grown);
	return grown;
}

/* The group of a name in *sp, added (perhaps growing *sp) when new. */
static FairGroup *
fair_group(FairState **sp, const char *name, int32 len)
{
	uint32     hash = name_hash(name, len);
	FairState *s = *sp;
	int32     *slot;
	FairGroup *g;

	if (s != NULL)
	{
		slot = find_slot(s, hash, name, len);
		if (*slot >= 0 && *slot < s->n_groups)
			return &FAIR_GROUPS_OF(s)[*slot];
	}
	s = fair_reserve(s, 1, Max(len, 0));
	*sp = s;
	slot = find_slot(s, hash, name, len);
	g = &FAIR_GROUPS_OF(s)[s->n_groups];
	memset(g, 0, sizeof(*g));
	g->hash = hash;
	g->name_len = len;
	g->name_off = s->names_used;
	if (len > 0)
		memcpy(FAIR_NAMES_OF(s) + s->names_used, name, len);
	s->names_used += Max(len, 0);
	*slot = s->n_groups++;
	return g;
}

/* Records the privileged group's name; ERROR when the state names another. */
static FairState *
set_privileged(FairState *s, const char *name, int32 len)
{
	if (s->privileged_off >= 0)
	{
		if (s->privileged_len != len ||
			memcmp(FAIR_NAMES_OF(s) + s->privileged_off, name, len) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("cs_fairness was given two privileged groups, \"%.*s\" "
							"and \"%.*s\"",
							s->privileged_len,
							FAIR_NAMES_OF(s) + s->privileged_off,
							len,
							name),
					 errhint("The privileged group must be the same in every row.")));
		return s;
	}
	s = fair_reserve(s, 0, len);
	memcpy(FAIR_NAMES_OF(s) + s->names_used, name, len);
	s->privileged_off = s->names_used;
	s->privileged_len = len;
	s->names_used += len;
	return s;
}

/* Adds one row to the aggregate; shared by both transition functions. */
static FairState *
fair_add_row(FunctionCallInfo fcinfo, const char *fname, bool with_privileged)
{
	FairState *s = own_state(fcinfo, fname);
	FairGroup *g;
	bool       approved;

	if (with_privileged)
	{
		text *p;

		if (PG_ARGISNULL(4))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the privileged group of cs_fairness must not be NULL"),
					 errhint("Leave the argument out for fairlearn's figures alone.")));
		p = PG_GETARG_TEXT_PP(4);
		s = fair_reserve(s, 0, 0);
		s = set_privileged(s, VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p));
	}
	if (PG_ARGISNULL(1))
		g = fair_group(&s, "", FAIR_NULL_NAME);
	else
	{
		text *grp = PG_GETARG_TEXT_PP(1);

		g = fair_group(&s, VARDATA_ANY(grp), VARSIZE_ANY_EXHDR(grp));
	}
	approved = PG_GETARG_BOOL(2);
	g->c.n++;
	g->c.approved += approved;
	if (!PG_ARGISNULL(3))
	{
		if (PG_GETARG_BOOL(3))
		{
			g->c.bad++;
			g->c.approved_bad += approved;
		}
		else
		{
			g->c.good++;
			g->c.approved_good += approved;
		}
	}
	return s;
}

/* cs_fairness_step(state, grp text, approved bool, defaulted bool) -> bytea */
Datum
cs_fairness_step(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		elog(ERROR, "cs_fairness_step: NULL state");
	if (PG_ARGISNULL(2))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0)); /* no decision: not counted */
	PG_RETURN_POINTER(fair_add_row(fcinfo, "cs_fairness_step", false));
}

/* cs_fairness_step(state, grp text, approved bool, defaulted bool, privileged text) -> bytea */
Datum
cs_fairness_step_privileged(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		elog(ERROR, "cs_fairness_step: NULL state");
	if (PG_ARGISNULL(2))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	PG_RETURN_POINTER(fair_add_row(fcinfo, "cs_fairness_step", true));
}

/* Adds the groups of in to *sp. */
static FairState *
fair_merge(FairState *s, const FairState *in)
{
	const FairGroup *groups = FAIR_GROUPS_OF(in);
	int32            i;

	s = fair_reserve(s, 0, 0);
	if (in->privileged_off >= 0)
		s = set_privileged(s, FAIR_NAMES_OF(in) + in->privileged_off, in->privileged_len);
	for (i = 0; i < in->n_groups; i++)
	{
		const FairGroup *from = &groups[i];
		FairGroup       *to = fair_group(&s,
                                   from->name_len > 0 ? FAIR_NAMES_OF(in) + from->name_off : "",
                                   from->name_len);

		to->c.n += from->c.n;
		to->c.approved += from->c.approved;
		to->c.good += from->c.good;
		to->c.bad += from->c.bad;
		to->c.approved_good += from->c.approved_good;
		to->c.approved_bad += from->c.approved_bad;
	}
	return s;
}

/* cs_fairness_combine(state bytea, other bytea) -> bytea */
Datum
cs_fairness_combine(PG_FUNCTION_ARGS)
{
	const char *fname = "cs_fairness_merge";
	FairState  *s = own_state(fcinfo, fname);
	FairState  *in = state_arg(fcinfo, 1, fname);

	if (in == NULL)
		PG_RETURN_POINTER(s ? s : (FairState *) PG_GETARG_POINTER(0));
	PG_RETURN_POINTER(fair_merge(s, in));
}

/* cs_fairness_merge_step(state bytea, partial bytea, privileged text) -> bytea */
Datum
cs_fairness_merge_step(PG_FUNCTION_ARGS)
{
	const char *fname = "cs_fairness_merge";
	FairState  *s;
	FairState  *in;
	text       *p;

	if (PG_ARGISNULL(0))
		elog(ERROR, "cs_fairness_merge_step: NULL state");
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the privileged group of cs_fairness_merge must not be NULL")));
	s = own_state(fcinfo, fname);
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(s ? s : (FairState *) PG_GETARG_POINTER(0));
	in = state_arg(fcinfo, 1, fname);
	p = PG_GETARG_TEXT_PP(2);
	s = fair_reserve(s, 0, 0);
	s = set_privileged(s, VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p));
	if (in != NULL)
		s = fair_merge(s, in);
	PG_RETURN_POINTER(s);
}

/* cs_fairness_state(state bytea) -> bytea: the _partial aggregate's result */
Datum
cs_fairness_state(PG_FUNCTION_ARGS)
{
	FairState *in = state_arg(fcinfo, 0, "cs_fairness_partial");

	if (in == NULL)
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	/* a compact copy: the merge into an empty state sizes it to fit */
	PG_RETURN_POINTER(fair_merge(NULL, in));
}

/* --------------------------------------------------------------- figures */

/* One group of a finished state, for sorting and output. */
typedef struct FairRow
{
	const char   *name; /* NULL for the NULL group */
	int32         len;
	cs_fair_group g;
} FairRow;

/* Output order: names bytewise, shorter first on a common prefix, NULL last. */
static int
compare_rows(const void *a, const void *b)
{
	const FairRow *x = a;
	const FairRow *y = b;
	int            cmp;

	if (x->name == NULL || y->name == NULL)
		return (x->name == NULL) - (y->name == NULL);
	cmp = memcmp(x->name, y->name, Min(x->len, y->len));
	if (cmp != 0)
		return cmp;
	return (x->len > y->len) - (x->len < y->len);
}

/* The finished figures of a state. */
typedef struct FairResult
{
	FairRow        *rows;
	int             n_rows;
	int             privileged; /* index in rows, or -1 */
	const char     *privileged_name;
	int32           privileged_len;
	cs_fair_summary summary;
} FairResult;

/* Computes the figures of a checked state; ERROR when the privileged group is absent. */
static void
fair_compute(const FairState *s, FairResult *out)
{
	cs_fair_group *groups;
	int            i;

	out->n_rows = s->n_groups;
	out->rows = palloc0(sizeof(FairRow) * Max(s->n_groups, 1));
	for (i = 0; i < s->n_groups; i++)
	{
		const FairGroup *g = &FAIR_GROUPS_OF(s)[i];

		out->rows[i].name = g->name_len == FAIR_NULL_NAME ? NULL : FAIR_NAMES_OF(s) + g->name_off;
		out->rows[i].len = Max(g->name_len, 0);
		out->rows[i].g.c = g->c;
	}
	qsort(out->rows, out->n_rows, sizeof(FairRow), compare_rows);
	out->privileged = -1;
	out->privileged_name = NULL;
	if (s->privileged_off >= 0)
	{
		out->privileged_name = FAIR_NAMES_OF(s) + s->privileged_off;
		out->privileged_len = s->privileged_len;
		for (i = 0; i < out->n_rows; i++)
			if (out->rows[i].name && out->rows[i].len == s->privileged_len &&
				memcmp(out->rows[i].name, out->privileged_name, s->privileged_len) == 0)
				out->privileged = i;
		if (out->privileged < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("privileged group \"%.*s\" does not occur in the data",
							s->privileged_len,
							out->privileged_name),
					 errhint("Name one of the groups, spelled as they are.")));
	}
	groups = palloc(sizeof(cs_fair_group) * Max(out->n_rows, 1));
	for (i = 0; i < out->n_rows; i++)
		groups[i] = out->rows[i].g;
	cs_fairness_compute(groups, out->n_rows, out->privileged, &out->summary);
	for (i = 0; i < out->n_rows; i++)
		out->rows[i].g = groups[i];
	pfree(groups);
}

/* Appends a double as JSON: its shortest exact form, null when not finite. */
static void
json_number(StringInfo buf, double v)
{
	char s[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (!isfinite(v))
	{
		appendStringInfoString(buf, "null");
		return;
	}
	double_to_shortest_decimal_buf(v, s);
	appendStringInfoString(buf, s);
}

/* Appends a JSON string of len bytes (null for NULL). */
static void
json_text(StringInfo buf, const char *s, int32 len)
{
	if (s == NULL)
		appendStringInfoString(buf, "null");
	else
		escape_json(buf, pnstrdup(s, len));
}

/* Appends "key": value for a tri-state verdict (1, 0, -1 = null). */
static void
json_verdict(StringInfo buf, int v)
{
	appendStringInfoString(buf, v < 0 ? "null" : (v ? "true" : "false"));
}

/* cs_fairness_final(state bytea) -> jsonb */
Datum
cs_fairness_final(PG_FUNCTION_ARGS)
{
	FairState     *s = state_arg(fcinfo, 0, "cs_fairness");
	FairResult     r;
	StringInfoData buf;
	int            i;

	if (s == NULL || s->n_groups == 0)
		PG_RETURN_NULL();
	fair_compute(s, &r);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"groups\": [");
	for (i = 0; i < r.n_rows; i++)
	{
		const cs_fair_group *g = &r.rows[i].g;

		appendStringInfoString(&buf, i ? ", {\"group\": " : "{\"group\": ");
		json_text(&buf, r.rows[i].name, r.rows[i].len);
		appendStringInfo(&buf,
						 ", \"count\": " UINT64_FORMAT ", \"approved\": " UINT64_FORMAT
						 ", \"good\": " UINT64_FORMAT ", \"bad\": " UINT64_FORMAT,
						 g->c.n,
						 g->c.approved,
						 g->c.good,
						 g->c.bad);
		appendStringInfoString(&buf, ", \"selection_rate\": ");
		json_number(&buf, g->selection_rate);
		appendStringInfoString(&buf, ", \"true_positive_rate\": ");
		json_number(&buf, g->true_positive_rate);
		appendStringInfoString(&buf, ", \"false_positive_rate\": ");
		json_number(&buf, g->false_positive_rate);
		appendStringInfoString(&buf, ", \"precision\": ");
		json_number(&buf, g->precision);
		appendStringInfoString(&buf, ", \"impact_ratio\": ");
		json_number(&buf, g->impact_ratio);
		appendStringInfoString(&buf, ", \"parity_difference\": ");
		json_number(&buf, g->parity_difference);
		appendStringInfoString(&buf, ", \"passes_four_fifths\": ");
		json_verdict(&buf, g->passes_four_fifths);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "], \"reference_group\": ");
	if (r.n_rows > 0)
		json_text(&buf, r.rows[r.summary.reference].name, r.rows[r.summary.reference].len);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ", \"demographic_parity_difference\": ");
	json_number(&buf, r.summary.demographic_parity_difference);
	appendStringInfoString(&buf, ", \"demographic_parity_ratio\": ");
	json_number(&buf, r.summary.demographic_parity_ratio);
	appendStringInfoString(&buf, ", \"equal_opportunity_difference\": ");
	json_number(&buf, r.summary.equal_opportunity_difference);
	appendStringInfoString(&buf, ", \"equalized_odds_difference\": ");
	json_number(&buf, r.summary.equalized_odds_difference);
	appendStringInfoString(&buf, ", \"four_fifths_rule\": ");
	json_verdict(&buf, r.summary.four_fifths_rule);
	if (r.privileged >= 0)
	{
		appendStringInfoString(&buf, ", \"privileged_group\": ");
		json_text(&buf, r.privileged_name, r.privileged_len);
		appendStringInfoString(&buf, ", \"statistical_parity_difference\": ");
		json_number(&buf, r.summary.statistical_parity_difference);
		appendStringInfoString(&buf, ", \"disparate_impact\": ");
		json_number(&buf, r.summary.disparate_impact);
	}
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/* ------------------------------------------------- the function over a relation */

/* ERROR unless relid has a column named name; its type in *typid. */
static void
require_column(Oid relid, const char *name, const char *what, Oid *typid)
{
	AttrNumber att = get_attnum(relid, name);

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("relation \"%s\" has no column \"%s\"%s", get_rel_name(relid), name, what),
				 errhint("Name the sensitive attributes by their column names.")));
	*typid = get_atttype(relid, att);
}

/* The SQL expression of the group label of the sensitive columns. */
static char *
group_expression(Oid relid, ArrayType *sensitive)
{
	Datum         *elems;
	bool          *nulls;
	int            n;
	int            i;
	StringInfoData buf;

	deconstruct_array(sensitive, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cs_fairness needs at least one sensitive column")));
	initStringInfo(&buf);
	if (n > 1)
		appendStringInfoString(&buf, "pg_catalog.array_to_string(ARRAY[");
	for (i = 0; i < n; i++)
	{
		char *col;
		Oid   typid;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("the sensitive columns of cs_fairness must not be NULL")));
		col = TextDatumGetCString(elems[i]);
		require_column(relid, col, ", a sensitive attribute", &typid);
		appendStringInfo(&buf, "%s(r.%s)::pg_catalog.text", i ? ", " : "", quote_identifier(col));
	}
	if (n > 1)
		appendStringInfoString(&buf, "], '/', 'NULL')");
	return buf.data;
}

/*
 * cs_fairness(model text, relation regclass, sensitive text[], threshold
 * float8, privileged text) -> one row per group
 */
Datum
cs_fairness_relation(PG_FUNCTION_ARGS)
{
	ReturnSetInfo  *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CsModelHandle  *h = palloc0(sizeof(CsModelHandle));
	const cs_model *m;
	Oid             relid;
	double          threshold;
	const char     *schema;
	char           *grp;
	char           *defaulted;
	StringInfoData  q;
	Oid             argtypes[3] = { TEXTOID, FLOAT8OID, TEXTOID };
	Datum           args[3];
	FairState      *s = NULL;
	FairResult      r;
	int             i;

	for (i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("cs_fairness: model, relation, sensitive and "
							"threshold must not be "
							"NULL")));
	m = cs_handle_by_name(h, PG_GETARG_TEXT_PP(0), fcinfo->flinfo->fn_mcxt);
	relid = PG_GETARG_OID(1);
	threshold = PG_GETARG_FLOAT8(3);
	if (!(threshold >= 0.0 && threshold <= 1.0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("threshold %g is outside [0, 1]", threshold),
				 errhint("An applicant is approved when the predicted "
						 "probability of default "
						 "is below the threshold.")));
	grp = group_expression(relid, PG_GETARG_ARRAYTYPE_P(2));
	if (get_attnum(relid, m->meta.target) > 0)
		defaulted = psprintf("(r.%s)::pg_catalog.text OPERATOR(pg_catalog.=) $3",
							 quote_identifier(m->meta.target));
	else
		defaulted = "NULL::pg_catalog.bool";

	schema = quote_identifier(get_namespace_name(cs_extension_schema()));
	initStringInfo(&q);
	appendStringInfo(&q,
					 "SELECT %s.cs_fairness_partial(%s, %s.cs_predict($1, r.*) "
					 "OPERATOR(pg_catalog.<) $2, %s) FROM %s AS r",
					 schema,
					 grp,
					 schema,
					 defaulted,
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												get_rel_name(relid)));
	args[0] = PointerGetDatum(PG_GETARG_TEXT_PP(0));
	args[1] = Float8GetDatum(threshold);
	args[2] = CStringGetTextDatum(m->meta.positive);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(q.data, 3, argtypes, args, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "cs_fairness: the query over the relation failed: %s", q.data);
	{
		bool  isnull;
		Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			struct varlena *v = (struct varlena *) PG_DETOAST_DATUM(d);

			if (VARSIZE(v) > VARHDRSZ)
			{
				s = (FairState *) SPI_palloc(VARSIZE(v));
				memcpy(s, v, VARSIZE(v));
			}
		}
	}
	SPI_finish();

	InitMaterializedSRF(fcinfo, 0);
	if (s == NULL)
		return (Datum) 0;
	check_state(s, "cs_fairness");
	if (!PG_ARGISNULL(4))
	{
		text *p = PG_GETARG_TEXT_PP(4);

		s = set_privileged(s, VARDATA_ANY(p), VARSIZE_ANY_EXHDR(p));
	}
	fair_compute(s, &r);
	for (i = 0; i < r.n_rows; i++)
	{
		const cs_fair_group *g = &r.rows[i].g;
		Datum                values[20];
		bool                 nulls[20];
		double figures[] = { g->selection_rate, g->true_positive_rate, g->false_positive_rate,
							 g->precision,      g->impact_ratio,       g->parity_difference };
		double summary[] = {
			r.summary.demographic_parity_difference, r.summary.demographic_parity_ratio,
			r.summary.equal_opportunity_difference,  r.summary.equalized_odds_difference,
			r.summary.statistical_parity_difference, r.summary.disparate_impact
		};
		int k;
		int c = 0;

		memset(nulls, 0, sizeof(nulls));
		if (r.rows[i].name)
			values[c++] = PointerGetDatum(cstring_to_text_with_len(r.rows[i].name, r.rows[i].len));
		else
			nulls[c++] = true;
		values[c++] = BoolGetDatum(i == r.summary.reference);
		values[c++] = Int64GetDatum((int64) g->c.n);
		values[c++] = Int64GetDatum((int64) g->c.approved);
		values[c++] = Int64GetDatum((int64) g->c.good);
		values[c++] = Int64GetDatum((int64) g->c.bad);
		for (k = 0; k < (int) lengthof(figures); k++, c++)
		{
			values[c] = Float8GetDatum(figures[k]);
			nulls[c] = !isfinite(figures[k]);
		}
		values[c] = BoolGetDatum(g->passes_four_fifths == 1);
		nulls[c++] = g->passes_four_fifths < 0;
		for (k = 0; k < (int) lengthof(summary); k++, c++)
		{
			values[c] = Float8GetDatum(summary[k]);
			nulls[c] = !isfinite(summary[k]);
		}
		values[c] = BoolGetDatum(r.summary.four_fifths_rule == 1);
		nulls[c++] = r.summary.four_fifths_rule < 0;
		Assert(c == 20);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
