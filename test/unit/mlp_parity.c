/*
 * mlp_parity.c - the dense network against scikit-learn: quality on
 * credit_data and the time of one epoch on 1,000,000 x 20 rows.  Not part of
 * the regular tests (it reads files the reference script writes).
 *
 *   make test/unit/mlp_parity
 *   /usr/bin/python3 test/reference/mlp_reference.py            (writes mlp_credit.json)
 *   test/unit/mlp_parity [--seeds K] [--threads N]             (AUC vs scikit-learn's)
 *
 *   /usr/bin/python3 test/reference/mlp_reference.py --bench DIR --threads N
 *   test/unit/mlp_parity --bench DIR --threads N                (epoch time ratio)
 *
 * Quality: loads test/data/credit_data.csv itself (as the database sees it:
 * lower-case columns, empty field = NULL, target status, positive 'bad'),
 * builds the dataset, the seed-42 split, the schema and the row-major design
 * through the core, trains cs_mlp_fit with MLPClassifier's settings
 * ((64, 32), relu, alpha 1e-4, Adam 1e-3, batch 200, at most 200 epochs,
 * training-loss stopping) for seeds 0..K-1 and prints the test AUCs next to
 * the reference's, with a hash of the weights (run twice with the same
 * --threads to see that they are reproduced bit for bit).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cs_mlp.h"

#define CSV_PATH   "test/data/credit_data.csv"
#define JSON_PATH  "test/reference/mlp_credit.json"
#define SPLIT_SEED 42
#define N_COLS     13
#define BENCH_P    20

static const int32_t hidden_64_32[2] = { 64, 32 };

/* Exits with a message. */
static void
die(const char *what, const char *detail)
{
	fprintf(stderr, "mlp_parity: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

/* Seconds on the monotonic clock. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* CPU seconds of this process (all its threads). */
static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double) ts.tv_sec + 1e-9 * (double) ts.tv_nsec;
}

/* The number after "key": in a JSON text, NaN when absent. */
static double
json_field(const char *text, const char *key)
{
	char        pattern[64];
	const char *at;

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	at = strstr(text, pattern);
	return at == NULL ? NAN : strtod(at + strlen(pattern), NULL);
}

/* Splits a CSV line in place into at most max fields, unquoting them; the field count. */
static int
split_csv(char *line, char **fields, int max)
{
	int   n = 0;
	char *p = line;

	line[strcspn(line, "\r\n")] = '\0';
	while (n < max)
	{
		char *end = strchr(p, ',');

		if (end != NULL)
			*end = '\0';
		if (p[0] == '"' && strlen(p) >= 2 && p[strlen(p) - 1] == '"')
		{
			p[strlen(p) - 1] = '\0';
			p++;
		}
		fields[n++] = p;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return n;
}

/* The credit table as a dataset. */
static cs_dataset *
load_credit(void)
{
	static const char   *names[N_COLS] = { "seniority", "home",   "time",     "age",    "marital",
										   "records",   "job",    "expenses", "income", "assets",
										   "debt",      "amount", "price" };
	static const cs_kind kinds[N_COLS] = {
		CS_KIND_NUMERIC,     CS_KIND_CATEGORICAL, CS_KIND_NUMERIC,     CS_KIND_NUMERIC,
		CS_KIND_CATEGORICAL, CS_KIND_CATEGORICAL, CS_KIND_CATEGORICAL, CS_KIND_NUMERIC,
		CS_KIND_NUMERIC,     CS_KIND_NUMERIC,     CS_KIND_NUMERIC,     CS_KIND_NUMERIC,
		CS_KIND_NUMERIC,
	};
	FILE       *f = fopen(CSV_PATH, "r");
	cs_dataset *ds = cs_dataset_new(N_COLS, names, kinds, NULL);
	char        line[1024];
	char       *fields[N_COLS + 1];
	int         j;

	if (f == NULL || ds == NULL)
		die("cannot open " CSV_PATH " (run from the repository root)", NULL);
	if (fgets(line, sizeof(line), f) == NULL)
		die("empty file", CSV_PATH);
	while (fgets(line, sizeof(line), f) != NULL)
	{
		size_t r = ds->n_rows;

		if (split_csv(line, fields, N_COLS + 1) != N_COLS + 1)
			die("a line has the wrong field count", line);
		if (cs_dataset_reserve(ds, r + 1, NULL) != CS_OK)
			die("out of memory", NULL);
		ds->label[r] = strcmp(fields[0], "bad") == 0;
		for (j = 0; j < N_COLS; j++)
		{
			const char *s = fields[j + 1];
			cs_column  *c = &ds->cols[j];

			if (s[0] == '\0')
				c->values[r] = NAN;
			else if (c->kind == CS_KIND_NUMERIC)
				c->values[r] = strtod(s, NULL);
			else
				c->values[r] = cs_strdict_intern(c->dict, s, strlen(s));
		}
		ds->n_rows = r + 1;
	}
	fclose(f);
	return ds;
}

/* The number after "key": in the reference JSON, NaN when absent. */
static double
json_number(const char *key)
{
	static char text[1 << 16];
	FILE       *f = fopen(JSON_PATH, "r");
	size_t      len;

	if (f == NULL)
		return NAN;
	len = fread(text, 1, sizeof(text) - 1, f);
	text[len] = '\0';
	fclose(f);
	return json_field(text, key);
}

/* MLPClassifier's settings of the parity run. */
static cs_mlp_params
parity_params(uint64_t seed)
{
	cs_mlp_params p;

	cs_mlp_params_default(&p);
	p.n_hidden = 2;
	p.hidden = hidden_64_32;
	p.activation = CS_MLP_RELU;
	p.weight_decay = 1e-4;
	p.learning_rate = 1e-3;
	p.batch_size = 200;
	p.epochs = 200;
	p.seed = seed;
	return p;
}

/* Trains on the credit split for seeds 0..n_seeds-1 and compares the test AUC. */
static void
parity(int n_seeds)
{
	cs_dataset *ds = load_credit();
	cs_split    split;
	cs_schema   schema;
	cs_error    err = { 0 };
	double     *X[3];
	uint8_t    *y[3];
	double     *prob;
	double      sum = 0.0;
	double      first = NAN;
	double      sk = json_number("test_auc");
	double      sk_mean = json_number("test_auc_mean");
	double      sk_sd = json_number("test_auc_sd");
	int         part;
	int         s;
	size_t      i;

	if (cs_dataset_check(ds, &err) != CS_OK ||
		cs_split_stratified(ds, SPLIT_SEED, &split, &err) != CS_OK ||
		cs_schema_learn(ds, split.rows[0], split.n[0], &schema, &err) != CS_OK)
		die("preparing the data", err.msg);
	for (part = 0; part < 3; part++)
	{
		if (cs_mlp_design_rows(&schema, ds, split.rows[part], split.n[part], &X[part], &err) !=
			CS_OK)
			die("the design", err.msg);
		y[part] = malloc(split.n[part]);
		if (y[part] == NULL)
			die("out of memory", NULL);
		for (i = 0; i < split.n[part]; i++)
			y[part][i] = ds->label[split.rows[part][i]];
	}
	prob = malloc(split.n[2] * sizeof(double));
	printf("credit, split seed %d: train %zu, valid %zu, test %zu rows, design width %d\n",
		   SPLIT_SEED,
		   split.n[0],
		   split.n[1],
		   split.n[2],
		   (int) schema.design_width);
	for (s = 0; s < n_seeds; s++)
	{
		cs_mlp_params p = parity_params((uint64_t) s);
		cs_mlp        m;
		double        start = now();
		double        auc;

		if (cs_mlp_fit(X[0],
					   y[0],
					   split.n[0],
					   schema.design_width,
					   X[1],
					   y[1],
					   split.n[1],
					   &p,
					   &m,
					   NULL,
					   NULL,
					   &err) != CS_OK ||
			cs_mlp_predict(&m, X[2], split.n[2], prob, &err) != CS_OK)
			die("fit", err.msg);
		auc = cs_auc(prob, y[2], split.n[2]);
		sum += auc;
		if (s == 0)
			first = auc;
		printf("cs_mlp_fit seed %d: test AUC %.6f after %d epochs (loss %.4f, validation loss "
			   "%.4f), %.2f s, weights %016llx\n",
			   s,
			   auc,
			   (int) m.n_epochs,
			   m.train_loss[m.n_epochs - 1],
			   m.valid_loss[m.n_epochs - 1],
			   now() - start,
			   (unsigned long long) cs_fnv1a64(m.params, m.n_params * sizeof(double)));
		cs_mlp_free(&m);
	}
	printf("cs_mlp_fit mean test AUC over %d seeds: %.6f\n", n_seeds, sum / n_seeds);
	printf("sklearn MLPClassifier random_state 0: test AUC %.6f (random_state 0..29: mean %.4f, "
		   "sd %.4f)\n",
		   sk,
		   sk_mean,
		   sk_sd);
	printf("difference (C seed 0 - sklearn): %+.4f; (C mean - sklearn mean): %+.4f; target "
		   "within 0.01\n",
		   first - sk,
		   sum / n_seeds - sk_mean);
	for (part = 0; part < 3; part++)
	{
		cs_free(X[part]);
		free(y[part]);
	}
	free(prob);
	cs_schema_free(&schema);
	cs_split_free(&split);
	cs_dataset_free(ds);
}

/* Reads DIR/name into a new buffer; its length in *len. */
static void *
read_file(const char *dir, const char *name, size_t *len)
{
	char  path[4096];
	FILE *f;
	void *buf;
	long  size;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) <= 0 ||
		fseek(f, 0, SEEK_SET) != 0)
		die("cannot read (run mlp_reference.py --bench first)", path);
	buf = malloc((size_t) size + 1);
	if (buf == NULL || fread(buf, 1, (size_t) size, f) != (size_t) size)
		die("cannot read", path);
	((char *) buf)[size] = '\0';
	fclose(f);
	*len = (size_t) size;
	return buf;
}

/* Times one epoch on the benchmark rows and compares with scikit-learn's time. */
static void
bench(const char *dir, int threads)
{
	size_t        x_len;
	size_t        y_len;
	size_t        json_len;
	double       *X = read_file(dir, "mlp_bench_X.f64", &x_len);
	uint8_t      *y = read_file(dir, "mlp_bench_y.u8", &y_len);
	char         *json = read_file(dir, "mlp_bench_sklearn.json", &json_len);
	double        sk = json_field(json, "seconds");
	double        sk_cpu = json_field(json, "cpu_seconds");
	size_t        n = y_len;
	cs_mlp_params p = parity_params(0);
	cs_mlp        m;
	cs_error      err = { 0 };
	double        start;
	double        cpu_start;
	double        seconds;
	double        cpu;

	if (x_len != n * BENCH_P * sizeof(double))
		die("the benchmark files disagree on the row count", dir);
	p.epochs = 1;
	start = now();
	cpu_start = cpu_now();
	if (cs_mlp_fit(X, y, n, BENCH_P, NULL, NULL, 0, &p, &m, NULL, NULL, &err) != CS_OK)
		die("fit", err.msg);
	seconds = now() - start;
	cpu = cpu_now() - cpu_start;
	printf("cs_mlp_fit (64, 32), batch 200, %d BLAS threads: one epoch on %zu x %d rows in "
		   "%.3f s (CPU %.3f s, loss %.4f)\n",
		   threads,
		   n,
		   BENCH_P,
		   seconds,
		   cpu,
		   m.train_loss[0]);
	printf("sklearn MLPClassifier partial_fit, same data: %.3f s (CPU %.3f s)\n", sk, sk_cpu);
	printf("ratio C / sklearn: %.3f wall, %.3f CPU (target <= 1.0)\n", seconds / sk, cpu / sk_cpu);
	cs_mlp_free(&m);
	free(X);
	free(y);
	free(json);
}

int
main(int argc, char **argv)
{
	const char *bench_dir = NULL;
	int         threads = 1;
	int         seeds = 1;
	int         i;
	cs_error    err = { 0 };

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--bench") == 0 && i + 1 < argc)
			bench_dir = argv[++i];
		else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
			threads = atoi(argv[++i]);
		else if (strcmp(argv[i], "--seeds") == 0 && i + 1 < argc)
			seeds = atoi(argv[++i]);
		else
			die("usage: mlp_parity [--seeds K] [--bench DIR] [--threads N]", NULL);
	}
	if (cs_linalg_load(NULL, threads, &err) != CS_OK)
		die("BLAS", err.msg);
	if (bench_dir != NULL)
		bench(bench_dir, threads);
	else
		parity(seeds < 1 ? 1 : seeds);
	return 0;
}
