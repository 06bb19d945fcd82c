/*
 * module.c - module initialisation, GUCs, and the mapping of core errors to
 * SQL errors.
 *
 * Nothing here loads OpenBLAS: only the training worker does (see
 * src/core/linalg.c), so that a backend that scores never starts BLAS threads.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "credit_scoring.h"

PG_MODULE_MAGIC;

int   cs_max_training_workers = 2;
int   cs_training_threads = 1;
char *cs_blas_library = NULL;
int   cs_model_cache_size_mb = 64;
int   cs_max_training_memory_mb = 4096;
int   cs_max_model_size_kb = 262144;

void _PG_init(void);

/* Defines the GUCs. */
void
_PG_init(void)
{
	DefineCustomIntVariable("credit_scoring.max_training_workers",
							"Maximum number of training jobs running at once in the cluster.",
							"Each job is a background worker and counts against "
							"max_worker_processes.",
							&cs_max_training_workers,
							2,
							0,
							64,
							PGC_SUSET,
							0,
							NULL,
							NULL,
							NULL);
	DefineCustomIntVariable("credit_scoring.training_threads",
							"Number of threads a training worker computes with.",
							"Results are deterministic for a given seed and thread count.",
							&cs_training_threads,
							1,
							1,
							64,
							PGC_USERSET,
							0,
							NULL,
							NULL,
							NULL);
	DefineCustomStringVariable("credit_scoring.blas_library",
							   "The OpenBLAS shared library that training workers load.",
							   "Only training workers load it; scoring never does.",
							   &cs_blas_library,
							   "libopenblas.so.0",
							   PGC_SUSET,
							   0,
							   NULL,
							   NULL,
							   NULL);
	DefineCustomIntVariable("credit_scoring.model_cache_size",
							"Memory each backend may keep for decoded models.",
							NULL,
							&cs_model_cache_size_mb,
							64,
							1,
							65536,
							PGC_USERSET,
							GUC_UNIT_MB,
							NULL,
							NULL,
							NULL);
	DefineCustomIntVariable("credit_scoring.max_training_memory",
							"Memory a training worker may use for its data and design matrix.",
							"A job that needs more fails with a clear error instead of exhausting "
							"the machine.",
							&cs_max_training_memory_mb,
							4096,
							16,
							PG_INT32_MAX / 2,
							PGC_SUSET,
							GUC_UNIT_MB,
							NULL,
							NULL,
							NULL);
	DefineCustomIntVariable("credit_scoring.max_model_size",
							"Largest model blob that training may register.",
							"A larger model fails with an error instead of filling the registry.",
							&cs_max_model_size_kb,
							262144,
							1,
							1048576,
							PGC_SUSET,
							GUC_UNIT_KB,
							NULL,
							NULL,
							NULL);
	MarkGUCPrefixReserved("credit_scoring");
}

/* A core progress callback: stop when a cancel or termination is pending. */
int
cs_interrupt_pending(void *ctx, double fraction, const char *message)
{
	return InterruptPending && (QueryCancelPending || ProcDiePending);
}

/* Raises the ERROR matching a core failure. */
void
cs_raise_core_error(const cs_error *err, const char *context)
{
	int code;

	/* a cancelled core call: raise the pending interrupt itself */
	if (err->code == CS_ERR_CANCELLED)
		CHECK_FOR_INTERRUPTS();
	switch (err->code)
	{
		case CS_ERR_NOMEM:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		case CS_ERR_INVALID:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case CS_ERR_CORRUPT:
			code = ERRCODE_DATA_CORRUPTED;
			break;
		case CS_ERR_CANCELLED:
			code = ERRCODE_QUERY_CANCELED;
			break;
		case CS_ERR_NUMERIC:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case CS_ERR_BLAS:
			code = ERRCODE_UNDEFINED_FILE;
			break;
		default:
			code = ERRCODE_INTERNAL_ERROR;
			break;
	}
	if (err->code == CS_ERR_CORRUPT && context == NULL)
		ereport(ERROR, (errcode(code), errmsg("%s", err->msg)));
	if (err->code == CS_ERR_CORRUPT)
		ereport(ERROR,
				(errcode(code),
				 errmsg("model \"%s\": %s", context, err->msg),
				 errhint("The registry row was damaged or edited; register the model again.")));
	if (err->code == CS_ERR_BLAS)
		ereport(ERROR,
				(errcode(code),
				 errmsg("%s: %s", context, err->msg),
				 errhint("Install OpenBLAS (Debian: libopenblas0) or set "
						 "credit_scoring.blas_library.")));
	if (err->code == CS_ERR_NUMERIC || err->code == CS_ERR_INVALID)
		ereport(ERROR, (errcode(code), errmsg("%s", err->msg)));
	ereport(ERROR, (errcode(code), errmsg("%s: %s", context, err->msg)));
}
