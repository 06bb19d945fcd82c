/*
 * trees_parity.c - quality parity and speed of the tree ensembles against XGBoost
 * 1.7 and scikit-learn 1.2 (not part of the regular tests).
 *
 *   make test/unit/trees_parity
 *   test/unit/trees_parity [threads]
 *       loads test/data/credit_data.csv, builds the dataset, the split (seed 42)
 *       and the schema through the core, trains the configurations of
 *       test/reference/trees_reference.py and prints each test AUC next to the
 *       reference's (test/reference/trees_credit.json), with the largest
 *       difference of the predictions of CSV rows 0..19.
 *   test/unit/trees_parity --bench FILE [threads]
 *       times training on the generated data that test/reference/trees_bench.py
 *       wrote to FILE (that script times XGBoost and scikit-learn on the same rows).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_trees.h"

#define CSV_PATH   "test/data/credit_data.csv"
#define JSON_PATH  "test/reference/trees_credit.json"
#define N_SHOW     20
#define SPLIT_SEED 42
#define N_SEEDS    10

static const char *const column_names[] = { "seniority", "home",   "time",     "age",    "marital",
											"records",   "job",    "expenses", "income", "assets",
											"debt",      "amount", "price" };
static const cs_kind     column_kinds[] = {
		CS_KIND_NUMERIC,     CS_KIND_CATEGORICAL, CS_KIND_NUMERIC, CS_KIND_NUMERIC, CS_KIND_CATEGORICAL,
		CS_KIND_CATEGORICAL, CS_KIND_CATEGORICAL, CS_KIND_NUMERIC, CS_KIND_NUMERIC, CS_KIND_NUMERIC,
		CS_KIND_NUMERIC,     CS_KIND_NUMERIC,     CS_KIND_NUMERIC,
};
#define N_COLS 13

/* One part of the split as tree inputs. */
typedef struct part
{
	size_t       n;
	double      *x;
	uint8_t     *y;
	cs_tree_data d;
} part;

/* Wall-clock seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

/* Exits with a message. */
static void
die(const char *what, const cs_error *err)
{
	fprintf(stderr,
			"trees_parity: %s%s%s\n",
			what,
			err != NULL ? ": " : "",
			err != NULL ? err->msg : "");
	exit(1);
}

/* Reads a whole file into a NUL-terminated buffer. */
static char *
read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long  len;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t) len + 1);
	if (buf == NULL || fread(buf, 1, (size_t) len, f) != (size_t) len)
	{
		fclose(f);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* ------------------------------------------------------------ CSV */

/* Splits one CSV line into at most max fields (quotes stripped, no escapes inside). */
static int
split_line(char *line, char **fields, int max)
{
	int   n = 0;
	char *p = line;

	while (n < max)
	{
		char *start;

		if (*p == '"')
		{
			start = ++p;
			while (*p != '\0' && *p != '"')
				p++;
			if (*p == '"')
				*p++ = '\0';
		}
		else
		{
			start = p;
			while (*p != '\0' && *p != ',' && *p != '\n' && *p != '\r')
				p++;
		}
		fields[n++] = start;
		if (*p != ',')
		{
			*p = '\0';
			break;
		}
		*p++ = '\0';
	}
	return n;
}

/* Loads the credit CSV as the database sees it: NULL for empty fields, label 1 = "bad". */
static cs_dataset *
load_credit(void)
{
	char       *text = read_file(CSV_PATH);
	char       *line;
	char       *save = NULL;
	cs_error    err = { 0 };
	cs_dataset *ds = cs_dataset_new(N_COLS, column_names, column_kinds, &err);
	int         first = 1;

	if (text == NULL)
		die("cannot read " CSV_PATH, NULL);
	if (ds == NULL)
		die("cs_dataset_new", &err);
	for (line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
	{
		char  *fields[N_COLS + 1];
		size_t r = ds->n_rows;
		int    j;

		if (first)
		{
			first = 0;
			continue;
		}
		if (split_line(line, fields, N_COLS + 1) != N_COLS + 1)
			die("a CSV line does not have 14 fields", NULL);
		if (cs_dataset_reserve(ds, r + 1, &err) != CS_OK)
			die("cs_dataset_reserve", &err);
		for (j = 0; j < N_COLS; j++)
		{
			cs_column  *c = &ds->cols[j];
			const char *s = fields[j + 1];

			if (*s == '\0')
				c->values[r] = NAN;
			else if (c->kind == CS_KIND_NUMERIC)
				c->values[r] = strtod(s, NULL);
			else
				c->values[r] = cs_strdict_intern(c->dict, s, strlen(s));
		}
		ds->label[r] = strcmp(fields[0], "bad") == 0;
		ds->n_rows = r + 1;
	}
	free(text);
	if (cs_dataset_check(ds, &err) != CS_OK)
		die("cs_dataset_check", &err);
	return ds;
}

/* Tree inputs and labels of the given rows. */
static void
make_part(const cs_schema *s, const cs_dataset *ds, const size_t *rows, size_t n, part *p)
{
	cs_error err = { 0 };
	size_t   i;

	if (cs_schema_inputs(s, ds, rows, n, &p->x, &err) != CS_OK)
		die("cs_schema_inputs", &err);
	p->n = n;
	p->y = malloc(n > 0 ? n : 1);
	for (i = 0; i < n; i++)
		p->y[i] = ds->label[rows[i]];
	cs_tree_data_rows(&p->d, p->x, n, s->n_features, p->y);
}

/* ------------------------------------------------------------ reference JSON */

/* The position after the keys found one after another, or NULL. */
static const char *
json_find(const char *json, const char *const *keys, int n_keys)
{
	const char *p = json;
	int         k;

	for (k = 0; k < n_keys && p != NULL; k++)
	{
		char quoted[128];

		snprintf(quoted, sizeof(quoted), "\"%s\"", keys[k]);
		p = strstr(p, quoted);
		if (p != NULL)
			p += strlen(quoted);
	}
	return p;
}

/* The number after "key": at the end of a key path; NaN when absent. */
static double
json_number(const char *json, const char *a, const char *b, const char *c)
{
	const char *keys[3] = { a, b, c };
	const char *p = json_find(json, keys, 3);

	if (p == NULL)
		return NAN;
	while (*p == ':' || *p == ' ')
		p++;
	return strtod(p, NULL);
}

/* The numbers of an array at the end of a key path; how many were read. */
static int
json_array(const char *json, const char *a, const char *b, const char *c, double *out, int max)
{
	const char *keys[3] = { a, b, c };
	const char *p = json_find(json, keys, 3);
	int         n = 0;

	if (p == NULL || (p = strchr(p, '[')) == NULL)
		return 0;
	p++;
	while (n < max)
	{
		char *end;

		while (*p == ' ' || *p == '\n' || *p == ',')
			p++;
		if (*p == ']')
			break;
		out[n++] = strtod(p, &end);
		if (end == p)
			break;
		p = end;
	}
	return n;
}

/* ------------------------------------------------------------ models */

typedef struct xgb_config
{
	const char *name;
	int32_t     n_estimators;
	double      learning_rate;
	int32_t     max_depth;
	double      min_child_weight;
	double      reg_lambda;
	double      reg_alpha;
	double      gamma;
	int32_t     max_bin;
	double      scale_pos_weight;
	int32_t     early_stopping_rounds;
	int         monotone;
} xgb_config;

/* The configurations of trees_reference.py's XGB_CONFIGS. */
static const xgb_config xgb_configs[] = {
	{ "default", 100, 0.3, 6, 1, 1, 0, 0, 256, 1, 0, 0 },
	{ "regularised", 150, 0.1, 4, 5, 2, 1, 0.5, 256, 1, 0, 0 },
	{ "early_stopping", 1000, 0.1, 6, 1, 1, 0, 0, 256, 1, 20, 0 },
	{ "monotone", 100, 0.3, 6, 1, 1, 0, 0, 256, 3, 0, 1 },
	{ "max_bin_32", 100, 0.3, 6, 1, 1, 0, 0, 32, 1, 0, 0 },
};

typedef struct rf_config
{
	const char *name;
	int32_t     max_depth;
	int32_t     min_samples_leaf;
	int32_t     balanced;
} rf_config;

/* The configurations of trees_reference.py's RF_CONFIGS. */
static const rf_config rf_configs[] = {
	{ "default", 0, 1, 0 },
	{ "balanced_depth8", 8, 5, 1 },
};

/* AUC of an ensemble on a part. */
static double
part_auc(const cs_ensemble *e, const part *p, const cs_schema *s)
{
	double *score = malloc(p->n * sizeof(double));
	double  auc;
	size_t  i;

	for (i = 0; i < p->n; i++)
		score[i] = cs_ensemble_predict(e, p->x + i * (size_t) s->n_features);
	auc = cs_auc(score, p->y, p->n);
	free(score);
	return auc;
}

/* Largest difference between the predictions of the shown rows and the reference's. */
static double
show_diff(const cs_ensemble *e, const part *show, const cs_schema *s, const double *ref, int n_ref)
{
	double worst = 0.0;
	int    i;

	if (n_ref != N_SHOW)
		return NAN;
	for (i = 0; i < N_SHOW; i++)
	{
		double p = cs_ensemble_predict(e, show->x + (size_t) i * (size_t) s->n_features);

		worst = fmax(worst, fabs(p - ref[i]));
	}
	return worst;
}

/* Trains and reports each boosting configuration. */
static int
run_boosting(const char *json, const cs_schema *s, part *parts, part *show, int threads)
{
	int    bad = 0;
	size_t c;

	printf("xgboost hist (XGBoost 1.7.4)       test AUC   reference  diff     best it (ref)   rows "
		   "0..19 max |dp|  time\n");
	for (c = 0; c < sizeof(xgb_configs) / sizeof(xgb_configs[0]); c++)
	{
		const xgb_config *x = &xgb_configs[c];
		cs_gbm_params     p;
		cs_gbm_result     r;
		cs_error          err = { 0 };
		int8_t            mono[N_COLS] = { 0 };
		double            ref_show[N_SHOW];
		int    n_ref = json_array(json, "xgboost", x->name, "first_rows_prob", ref_show, N_SHOW);
		double ref_auc = json_number(json, "xgboost", x->name, "test_auc");
		double ref_best = json_number(json, "xgboost", x->name, "best_iteration");
		double auc;
		double t0;
		double secs;

		cs_gbm_params_default(&p);
		p.n_estimators = x->n_estimators;
		p.learning_rate = x->learning_rate;
		p.max_depth = x->max_depth;
		p.min_child_weight = x->min_child_weight;
		p.reg_lambda = x->reg_lambda;
		p.reg_alpha = x->reg_alpha;
		p.gamma = x->gamma;
		p.max_bin = x->max_bin;
		p.scale_pos_weight = x->scale_pos_weight;
		p.early_stopping_rounds = x->early_stopping_rounds;
		p.threads = threads;
		if (x->monotone)
		{
			mono[0] = -1; /* seniority */
			mono[8] = -1; /* income */
			mono[11] = 1; /* amount */
			p.monotone_constraints = mono;
		}
		t0 = now();
		if (cs_gbm_train(&p,
						 &parts[CS_PART_TRAIN].d,
						 &parts[CS_PART_VALID].d,
						 NULL,
						 NULL,
						 &r,
						 &err) != CS_OK)
			die("cs_gbm_train", &err);
		secs = now() - t0;
		auc = part_auc(&r.model, &parts[CS_PART_TEST], s);
		printf("  %-32s %.6f   %.6f  %+.6f %4d (%4d)      %.2e           %.3f s%s\n",
			   x->name,
			   auc,
			   ref_auc,
			   auc - ref_auc,
			   (int) r.best_iteration,
			   (int) ref_best,
			   show_diff(&r.model, show, s, ref_show, n_ref),
			   secs,
			   fabs(auc - ref_auc) <= 0.005 ? "" : "  <-- beyond 0.005");
		bad += !(fabs(auc - ref_auc) <= 0.005);
		cs_gbm_result_free(&r);
	}
	return bad;
}

/* Trains and reports each forest configuration over N_SEEDS seeds. */
static int
run_forest(const char *json, const cs_schema *s, part *parts, part *show, int threads)
{
	int    bad = 0;
	size_t c;

	printf("random forest (scikit-learn 1.2.1) test AUC mean (sd) over %d seeds   reference mean "
		   "(sd)   diff      OOB AUC (ref)      rows 0..19 max |dp|  time/forest\n",
		   N_SEEDS);
	for (c = 0; c < sizeof(rf_configs) / sizeof(rf_configs[0]); c++)
	{
		const rf_config *f = &rf_configs[c];
		double           ref_mean = json_number(json, "forest", f->name, "test_auc_mean");
		double           ref_sd = json_number(json, "forest", f->name, "test_auc_sd");
		double           ref_oob = json_number(json, "forest", f->name, "oob_auc_mean");
		double           ref_show[N_SHOW];
		int    n_ref = json_array(json, "forest", f->name, "first_rows_prob", ref_show, N_SHOW);
		double sum = 0.0;
		double ss = 0.0;
		double oob = 0.0;
		double dshow = 0.0;
		double secs = 0.0;
		double mean;
		double sd;
		int    k;

		for (k = 0; k < N_SEEDS; k++)
		{
			cs_forest_params p;
			cs_forest_result r;
			cs_error         err = { 0 };
			double           auc;
			double           t0;

			cs_forest_params_default(&p);
			p.max_depth = f->max_depth;
			p.min_samples_leaf = f->min_samples_leaf;
			p.class_weight_balanced = f->balanced;
			p.seed = (uint64_t) k + 1;
			p.threads = threads;
			t0 = now();
			if (cs_forest_train(&p, &parts[CS_PART_TRAIN].d, NULL, NULL, &r, &err) != CS_OK)
				die("cs_forest_train", &err);
			secs += now() - t0;
			auc = part_auc(&r.model, &parts[CS_PART_TEST], s);
			sum += auc;
			ss += auc * auc;
			oob += r.oob_auc;
			dshow = fmax(dshow, show_diff(&r.model, show, s, ref_show, n_ref));
			cs_forest_result_free(&r);
		}
		mean = sum / N_SEEDS;
		sd = sqrt(fmax(0.0, (ss - N_SEEDS * mean * mean) / (N_SEEDS - 1)));
		printf("  %-32s %.6f (%.6f)                 %.6f (%.6f)    %+.6f  %.6f (%.6f)  %.2e        "
			   "     %.3f s%s\n",
			   f->name,
			   mean,
			   sd,
			   ref_mean,
			   ref_sd,
			   mean - ref_mean,
			   oob / N_SEEDS,
			   ref_oob,
			   dshow,
			   secs / N_SEEDS,
			   fabs(mean - ref_mean) <= 0.005 ? "" : "  <-- beyond 0.005");
		bad += !(fabs(mean - ref_mean) <= 0.005);
	}
	return bad;
}

/* ------------------------------------------------------------ benchmark */

/*
 * The benchmark file (written by trees_bench.py): "CSTB", u32 features, u64 train rows,
 * u64 holdout rows, then per part row-major float64 inputs and uint8 labels.
 */
static int
run_bench(const char *path, int threads)
{
	FILE            *f = fopen(path, "rb");
	char             magic[4];
	uint32_t         nf;
	uint64_t         n[2];
	part             parts[2];
	int              k;
	cs_gbm_params    gp;
	cs_gbm_result    gr;
	cs_forest_params fp;
	cs_forest_result fr;
	cs_error         err = { 0 };
	double           t0;
	double           gbm_secs;
	double           forest_secs;
	double          *score;
	size_t           i;
	const char      *which = getenv("BENCH_MODELS");

	if (f == NULL || fread(magic, 1, 4, f) != 4 || memcmp(magic, "CSTB", 4) != 0 ||
		fread(&nf, sizeof(nf), 1, f) != 1 || fread(n, sizeof(uint64_t), 2, f) != 2)
		die("cannot read the benchmark file", NULL);
	for (k = 0; k < 2; k++)
	{
		parts[k].n = n[k];
		parts[k].x = malloc(n[k] * nf * sizeof(double));
		parts[k].y = malloc(n[k]);
		if (parts[k].x == NULL || parts[k].y == NULL ||
			fread(parts[k].x, sizeof(double), n[k] * nf, f) != n[k] * nf ||
			fread(parts[k].y, 1, n[k], f) != n[k])
			die("cannot read the benchmark rows", NULL);
		cs_tree_data_rows(&parts[k].d, parts[k].x, n[k], (int32_t) nf, parts[k].y);
	}
	fclose(f);
	score = malloc(n[1] * sizeof(double));
	printf("benchmark: %llu training rows, %llu holdout rows, %u features, %d threads\n",
		   (unsigned long long) n[0],
		   (unsigned long long) n[1],
		   nf,
		   threads);

	if (which == NULL || strstr(which, "gbm") != NULL)
	{
		cs_gbm_params_default(&gp);
		gp.n_estimators = 200;
		gp.learning_rate = 0.1;
		gp.max_depth = 6;
		gp.max_bin = 256;
		gp.threads = threads;
		t0 = now();
		if (cs_gbm_train(&gp, &parts[0].d, NULL, NULL, NULL, &gr, &err) != CS_OK)
			die("cs_gbm_train", &err);
		gbm_secs = now() - t0;
		t0 = now();
		for (i = 0; i < n[1]; i++)
			score[i] = cs_ensemble_predict(&gr.model, parts[1].x + i * nf);
		t0 = now() - t0;
		printf("gbm    200 trees depth 6 eta 0.1 256 bins: %.2f s, holdout AUC %.6f, predict %.0f "
			   "ns per row\n",
			   gbm_secs,
			   cs_auc(score, parts[1].y, n[1]),
			   t0 * 1e9 / (double) n[1]);
		cs_gbm_result_free(&gr);
	}
	if (which == NULL || strstr(which, "forest") != NULL)
	{
		cs_forest_params_default(&fp);
		fp.n_estimators = 100;
		fp.max_depth = 12;
		fp.threads = threads;
		t0 = now();
		if (cs_forest_train(&fp, &parts[0].d, NULL, NULL, &fr, &err) != CS_OK)
			die("cs_forest_train", &err);
		forest_secs = now() - t0;
		t0 = now();
		for (i = 0; i < n[1]; i++)
			score[i] = cs_ensemble_predict(&fr.model, parts[1].x + i * nf);
		t0 = now() - t0;
		printf("forest 100 trees depth 12:                 %.2f s, holdout AUC %.6f, OOB AUC "
			   "%.6f, predict %.0f ns per row\n",
			   forest_secs,
			   cs_auc(score, parts[1].y, n[1]),
			   fr.oob_auc,
			   t0 * 1e9 / (double) n[1]);
		cs_forest_result_free(&fr);
	}
	free(score);
	for (k = 0; k < 2; k++)
	{
		free(parts[k].x);
		free(parts[k].y);
	}
	return 0;
}

/* ------------------------------------------------------------ main */

int
main(int argc, char **argv)
{
	cs_dataset *ds;
	cs_split    split;
	cs_schema   schema;
	cs_error    err = { 0 };
	part        parts[3];
	part        show;
	size_t      show_rows[N_SHOW];
	char       *json;
	int         threads = 1;
	int         bad = 0;
	int         k;

	if (argc >= 3 && strcmp(argv[1], "--bench") == 0)
		return run_bench(argv[2], argc >= 4 ? atoi(argv[3]) : 2);
	if (argc >= 2)
		threads = atoi(argv[1]);
	json = read_file(JSON_PATH);
	if (json == NULL)
		die("cannot read " JSON_PATH, NULL);
	ds = load_credit();
	if (cs_split_stratified(ds, SPLIT_SEED, &split, &err) != CS_OK)
		die("cs_split_stratified", &err);
	if (cs_schema_learn(ds, split.rows[CS_PART_TRAIN], split.n[CS_PART_TRAIN], &schema, &err) !=
		CS_OK)
		die("cs_schema_learn", &err);
	for (k = 0; k < 3; k++)
		make_part(&schema, ds, split.rows[k], split.n[k], &parts[k]);
	for (k = 0; k < N_SHOW; k++)
		show_rows[k] = (size_t) k;
	make_part(&schema, ds, show_rows, N_SHOW, &show);
	printf("credit: train %zu, valid %zu, test %zu rows; %d threads\n",
		   split.n[0],
		   split.n[1],
		   split.n[2],
		   threads);

	bad += run_boosting(json, &schema, parts, &show, threads);
	bad += run_forest(json, &schema, parts, &show, threads);
	printf("%s\n", bad == 0 ? "all within 0.005 of the reference" : "SOME BEYOND 0.005");

	for (k = 0; k < 3; k++)
	{
		cs_free(parts[k].x);
		free(parts[k].y);
	}
	cs_free(show.x);
	free(show.y);
	cs_schema_free(&schema);
	cs_split_free(&split);
	cs_dataset_free(ds);
	free(json);
	return bad == 0 ? 0 : 1;
}
