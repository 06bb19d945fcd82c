/*
 * credit_scoring.h - declarations shared by the PostgreSQL glue in src/.
 *
 * One concern per file:
 *   module.c         module init and GUCs
 *   encode.c         SQL types to feature kinds and values; rows and jsonb
 *                    objects to scoring inputs
 *   reader.c         reading a relation into a cs_dataset (SPI cursor)
 *   registry.c       the registry tables: names to models, runs and jobs
 *   model_cache.c    the per-backend cache of decoded models
 *   predict.c        cs_predict and its per-call-site fast path
 *   trigger.c        cs_score_trigger
 *   launcher.c       cs_train and cs_cancel: starting and waiting for a job
 *   worker.c         the training background worker
 *   train.c          what the worker runs: read, split, fit, evaluate
 *   request.c        the training request: arguments, validation, params
 */
#ifndef CREDIT_SCORING_H
#define CREDIT_SCORING_H

#include "postgres.h"

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "cs_core.h"
#include "cs_fit.h"

#define CS_EXTENSION_NAME     "credit_scoring"
#define CS_WORKER_TYPE        "credit_scoring training"
#define CS_JOB_APPNAME_PREFIX "credit_scoring job"

/* GUCs (module.c) */
extern int   cs_max_training_workers;
extern int   cs_training_threads;
extern char *cs_blas_library;
extern int   cs_model_cache_size_mb;
extern int   cs_max_training_memory_mb;
extern int   cs_max_model_size_kb;

/* Raises the ERROR matching a core failure; context names the model or the step (module.c). */
extern void cs_raise_core_error(const cs_error *err, const char *context) pg_attribute_noreturn();
/* A core progress callback that asks to stop when a cancel or termination is pending. */
extern int cs_interrupt_pending(void *ctx, double fraction, const char *message);

/* ------------------------------------------------------------ encode.c */

/* The feature kind of a column type; false when the type cannot be a feature. */
extern bool cs_type_kind(Oid typid, cs_kind *kind);
/* A numeric datum as a double (NaN stays NaN). */
extern double cs_datum_number(Datum d, Oid typid);
/* A categorical datum as text (palloc'd unless it points into d). */
extern const char *cs_datum_category(Datum d, Oid typid, FmgrInfo *outfn, size_t *len);

/* How one call site maps a row type onto a model's features. */
typedef struct CsRowMap
{
	Oid       tupType;
	int32     tupTypmod;
	TupleDesc tupdesc; /* a copy, for deforming */
	int       natts;
	int      *attnum; /* per feature: 0-based attribute index */
	Oid      *typid;  /* per feature: the column's base type */
	FmgrInfo *outfn;  /* per feature: output function (categorical) */
	Datum    *values; /* deform buffers, natts long */
	bool     *nulls;
} CsRowMap;

/* (Re)builds map for tupdesc; errors name the model and the missing column. */
extern void cs_rowmap_build(CsRowMap *map, const cs_model *model, TupleDesc tupdesc,
							const char *model_label, MemoryContext mcxt);
/* Fills input[] from deformed values according to map. */
extern void cs_rowmap_inputs(const CsRowMap *map, const cs_model *model, double *input);
/* Fills input[i] alone (feature i) from deformed values according to map. */
extern void cs_rowmap_input(const CsRowMap *map, const cs_model *model, int i, double *input);
/* Fills input[] from the keys of a jsonb object (absent key = missing). */
extern void cs_jsonb_inputs(Jsonb *jb, const cs_model *model, double *input);
/* An error naming the first feature a jsonb row has no key for (explanations). */
extern void cs_jsonb_require_features(Jsonb *jb, const cs_model *model, const char *ref);

/* ------------------------------------------------------------ registry.c */

/* Oid of the extension's schema (looked up once per backend). */
extern Oid cs_extension_schema(void);
/* Owner of the extension: the role that writes the registry. */
extern Oid cs_extension_owner(void);
/* "schema.table" for a registry table, quoted. */
extern char *cs_registry_table(const char *table);

typedef struct CsModelRef
{
	int64  model_id;
	int32  version;
	uint64 identity; /* xmin of the registry row: changes with any UPDATE */
} CsModelRef;

/* Resolves "name" or "name@3"; ERROR when no such model or version. */
extern void cs_registry_resolve(const char *ref, CsModelRef *out);
/*
 * Runs a registry statement (SPI connected) as the extension's owner, so that
 * callers need no write privilege on the registry; ERROR unless it returns
 * expected.  Returns SPI_processed.
 */
extern uint64 cs_registry_exec(const char *sql, int nargs, Oid *types, Datum *values,
							   const char *nulls, int expected);

/* The blob of a model id, palloc'd in the current context. */
extern bytea *cs_registry_fetch_blob(int64 model_id);
/* The training profile of a model id, palloc'd in the current context; NULL when absent. */
extern Jsonb *cs_registry_profile(int64 model_id);

/* ---------------------------------------------------------- model_cache.c */

typedef struct CsCachedModel CsCachedModel;

/*
 * The decoded model of registry row model_id as of its xmin, fetching and
 * decoding the blob on a miss.  The entry is pinned until the memory
 * context "owner" is reset or deleted.
 */
extern const cs_model *
cs_cache_get(int64 model_id, uint64 xmin, MemoryContext owner, const char *label);
/*
 * The decoded model of a blob passed by value; *copy receives the cached copy
 * of its bytes, which the caller compares to later blobs.  Pinned as above.
 */
extern const cs_model *cs_cache_get_blob(bytea *blob, MemoryContext owner, const bytea **copy);

/* ------------------------------------------------------------- predict.c */

/* The model of a model reference, with a fast path for repeated refs. */
typedef struct CsModelHandle
{
	char           *ref;      /* the text the model was resolved from */
	int64           model_id; /* registry id of a model resolved by name, else 0 */
	size_t          ref_len;
	TimestampTz     resolved_at;   /* the statement that resolved ref */
	uint32          resolved_lxid; /* and its local transaction */
	const bytea    *blob;          /* for the bytea variants: the cached copy */
	char           *raw;           /* and the argument's raw bytes (TOAST pointer or inline) */
	Size            raw_len;
	const cs_model *model;
	CsRowMap        map;
	double         *input;
} CsModelHandle;

/* The call site's model handle in fn_extra, allocated on first use. */
extern CsModelHandle  *cs_call_site_handle(FunctionCallInfo fcinfo);
extern const cs_model *cs_handle_by_name(CsModelHandle *h, text *ref, MemoryContext mcxt);
/* The model of a blob argument (arg 0), decoded once per distinct blob. */
extern const cs_model *cs_handle_by_blob(CsModelHandle *h, FunctionCallInfo fcinfo);
/* Fills h->input from a record argument, mapping its row type once. */
extern void cs_handle_record_inputs(CsModelHandle *h, HeapTupleHeader td, MemoryContext mcxt);

/* explain.c: KernelSHAP's coalitions for a samples argument (0: the default), checked */
extern int32 cs_kernel_samples(int32 samples, int32 n_features);
/* explain.c: an error naming the model unless it keeps a reference sample */
extern void cs_require_reference(const cs_model *m, const char *ref, const char *what);
/* explain.c: the text of one input value (the number, the category, "(unseen)"), or NULL */
extern Datum cs_input_text(const cs_feature *f, double x, bool *isnull);

/* ------------------------------------------------------------- reasons.c */

/* A reason table (feature -> reason, code) as read for one SQL command. */
typedef struct CsReasonTexts
{
	Oid                relid;
	LocalTransactionId lxid;
	CommandId          command;
	int                n;
	char             **feature;
	char             **reason; /* may be NULL */
	char             **code;   /* may be NULL */
} CsReasonTexts;

typedef struct CsReason
{
	int    feature; /* index in the model's features */
	double contribution;
} CsReason;

/* Reads a reason table (columns feature, reason, optionally code) into t, in mcxt. */
extern void cs_reason_texts_load(CsReasonTexts *t, Oid relid, MemoryContext mcxt);
/* Whether t holds relid as read in the current SQL command. */
extern bool cs_reason_texts_current(const CsReasonTexts *t, Oid relid);
/*
 * The at most n reasons (positive contributions, largest first) for input
 * against the cutoff-matched reference; returns how many.  Checks n and cutoff.
 */
extern int cs_reasons_compute(const cs_model *m, const char *ref, const double *input, int n,
							  double cutoff, CsReason *out, double *reference_score);
/* A feature's reason text (the table's, else its name) and code (or NULL). */
extern const char *
cs_reason_text(const CsReasonTexts *t, const cs_model *m, int feature, const char **code);


/* ------------------------------------------------------------- request.c */

/* Hyperparameters after validation, defaults filled in (src/core/cs_fit.h). */
typedef cs_train_params CsParams;

/* Model type by name; ERROR naming the known types when unknown. */
extern cs_model_type cs_model_type_from_name(const char *name);
/* Validates params (a jsonb object) for a model type; ERROR on bad keys/values. */
extern void cs_params_parse(cs_model_type type, Jsonb *params, CsParams *out);
/* The effective hyperparameters as a JSON object. */
extern char *cs_params_json(const CsParams *p);

/* ------------------------------------------------------------- search.c */

/* A hyperparameter search: the combinations of the list-valued params. */
typedef struct CsSearch
{
	bool      active; /* some value was a list, or "search" was given */
	bool      random; /* search: random (else grid) */
	char     *metric; /* auc, log_loss, brier or accuracy */
	bool      higher_is_better;
	int       folds; /* cv_folds */
	int       n_combos;
	char    **combo_json; /* each combination's params (scalars), as given */
	CsParams *combos;     /* each combination, validated, defaults filled in */
} CsSearch;

/*
 * Parses params: scalars are fixed, a list is a grid axis, and "search",
 * "n_iter", "cv_folds" and "metric" control the search.  Every combination
 * is validated like the params of a single fit.  Without a list (or
 * "search"), out->active is false and out->combos[0] is the single fit.
 */
extern void cs_search_parse(cs_model_type type, Jsonb *params, CsSearch *out);
/* A metric of scores p against labels y, for ranking combinations. */
extern double cs_search_metric(const CsSearch *s, const double *p, const uint8_t *y, size_t n);

/* A jsonb object's member as text (NULL when absent or JSON null). */
extern char *cs_json_get_text(Jsonb *jb, const char *key);
/* A jsonb object's member that is an array of strings; NULL when absent. */
extern List *cs_json_get_text_list(Jsonb *jb, const char *key);
/* A jsonb object's member as a jsonb value (NULL when absent). */
extern Jsonb *cs_json_get_jsonb(Jsonb *jb, const char *key);
/* Appends a JSON-quoted string. */
extern void cs_json_append_string(StringInfo buf, const char *s);

/* ------------------------------------------------------------- jobs */

/* Live state of a job's worker, read from the backend status table. */
typedef struct CsJobLive
{
	bool   alive;
	int    pid;
	char   phase[32];
	double progress;
	char   message[256];
} CsJobLive;

extern void cs_job_live(int64 job_id, CsJobLive *out);
/* Number of training workers alive in the cluster. */
extern int cs_count_training_workers(void);
/* Publishes the worker's phase/progress/message in its backend status. */
extern void cs_job_report(const char *phase, double progress, const char *message);
/* The phase and progress this worker last published. */
extern const char *cs_job_last_phase(double *progress);

/* The training worker's entry point (worker.c). */
extern PGDLLEXPORT void cs_training_worker_main(Datum arg);

/* ------------------------------------------------------- launcher/worker */

/* What the caller hands the worker, in a dynamic shared memory segment. */
typedef struct CsJobShared
{
	Oid  database_id;
	Oid  session_user_id; /* the worker connects as this role */
	Oid  current_user_id; /* and reads the relation as this one */
	int  threads;
	int  max_memory_mb; /* credit_scoring.max_training_memory of the caller */
	int  max_model_kb;  /* credit_scoring.max_model_size of the caller */
	bool wait;
	char blas_library[MAXPGPATH];
	Size request_len; /* the request (JSON text) follows this struct */
	Size mq_offset;   /* then the worker-to-caller message queue */
} CsJobShared;

/* Message kinds on the worker-to-caller queue (first byte). */
#define CS_MSG_STARTED 'S' /* int64 job, int64 run, int32 pid */
#define CS_MSG_NOTICE  'N' /* text */
#define CS_MSG_ERROR   'E' /* int32 sqlstate, message, detail, hint */
#define CS_MSG_DONE    'D' /* int64 run, int32 version */

struct shm_mq_handle;

/* Runs a training request in the worker (train.c). */
extern void cs_run_training(CsJobShared *shared, const char *request, struct shm_mq_handle *mqh);

/* ------------------------------------------------------------- reader.c */

typedef struct CsReadResult
{
	cs_dataset *ds;
	int64       n_read;    /* rows with a target value */
	int64       n_skipped; /* rows whose target is NULL */
} CsReadResult;

/*
 * Reads target and features of a relation into a dataset (in a transaction);
 * ERROR when the data would take more than max_memory_mb.
 */
extern void cs_read_relation(Oid relid, const char *target, const char *positive, List *features,
							 int max_memory_mb, CsReadResult *out);

/* ERROR naming what needs the memory when bytes exceed max_memory_mb. */
extern void cs_check_training_memory(double bytes, int max_memory_mb, const char *what);

#endif /* CREDIT_SCORING_H */
