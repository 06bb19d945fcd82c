/*
 * cs_fairness.h - group fairness of credit decisions (src/core/fairness.c).
 *
 * The favourable outcome is approval; the "truly good" label is "did not
 * default".  Per group, with fairlearn's conventions (y_true = good payer,
 * y_pred = approved):
 *   selection rate        approved / count
 *   true positive rate    approved good payers / good payers
 *   false positive rate   approved defaulters / defaulters
 *   precision             approved good payers / approved with a known outcome
 * Pure C, no PostgreSQL header.
 */
#ifndef CS_FAIRNESS_H
#define CS_FAIRNESS_H

#include "cs_core.h"

/* The four-fifths (80%) rule: a selection rate at least 4/5 of the reference's. */
#define CS_FOUR_FIFTHS 0.8

/* What an aggregate counts per group. */
typedef struct cs_fair_counts
{
	uint64_t n;             /* rows with a decision */
	uint64_t approved;      /* of which approved */
	uint64_t good;          /* rows whose outcome is "did not default" */
	uint64_t bad;           /* rows whose outcome is "defaulted" */
	uint64_t approved_good; /* approved and did not default */
	uint64_t approved_bad;  /* approved and defaulted */
} cs_fair_counts;

typedef struct cs_fair_group
{
	cs_fair_counts c;
	/* filled by cs_fairness_compute; NaN when undefined (a zero denominator) */
	double selection_rate;
	double true_positive_rate;
	double false_positive_rate;
	double precision;
	double impact_ratio;       /* selection rate / the reference group's */
	double parity_difference;  /* selection rate - the reference group's */
	int    passes_four_fifths; /* impact_ratio >= 0.8: 1, 0, or -1 undefined */
} cs_fair_group;

typedef struct cs_fair_summary
{
	/* fairlearn's between-groups figures (unsigned) */
	double demographic_parity_difference; /* max - min selection rate */
	double demographic_parity_ratio;      /* min / max selection rate */
	double equal_opportunity_difference;  /* max - min true positive rate */
	double equalized_odds_difference;     /* max of the TPR and FPR differences */
	/*
   * The reference group: the privileged group when one is named, else the
   * group with the highest selection rate (the first such group).
   */
	int reference;
	/* AIF360's signed figures, unprivileged (all other groups pooled) vs privileged */
	double statistical_parity_difference;
	double disparate_impact;
	/* every group's impact ratio >= 0.8: 1, 0, or -1 undefined */
	int four_fifths_rule;
} cs_fair_summary;

/* Checks that counts are consistent (subsets no larger than their sets). */
int cs_fair_counts_valid(const cs_fair_counts *c);

/*
 * Fills each group's rates and the summary; privileged is the index of the
 * privileged group or -1.  Groups whose rate is undefined are left out of
 * the differences and ratios built on that rate.
 */
void cs_fairness_compute(cs_fair_group *groups, int n_groups, int privileged, cs_fair_summary *out);

#endif /* CS_FAIRNESS_H */
