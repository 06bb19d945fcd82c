/*
 * registry.c - reading the registry tables (cs_models and friends).
 *
 * A model reference is a name, which resolves to the name's production
 * version or else its newest, or "name@N" for version N.  Lookups go through
 * SPI plans prepared once per backend; the caller's snapshot decides what is
 * visible, so a version promoted and committed elsewhere is seen by the next
 * query.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/genam.h"
#include "access/skey.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "credit_scoring.h"

static SPIPlanPtr resolve_latest_plan = NULL;
static SPIPlanPtr resolve_version_plan = NULL;
static SPIPlanPtr fetch_blob_plan = NULL;
static Oid        plans_schema = InvalidOid;

/* Oid of the extension. */
static Oid
extension_oid(void)
{
	Oid ext = get_extension_oid(CS_EXTENSION_NAME, true);

	if (!OidIsValid(ext))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is not installed in this database", CS_EXTENSION_NAME),
				 errhint("Run CREATE EXTENSION credit_scoring.")));
	return ext;
}

/* A column of the extension's pg_extension row. */
static Oid
extension_field(bool want_owner)
{
	Oid         ext = extension_oid();
	Relation    rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple   tup;
	Oid         result = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(tup);

		result = want_owner ? form->extowner : form->extnamespace;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(result))
		elog(ERROR, "could not read the catalog row of extension %s", CS_EXTENSION_NAME);
	return result;
}

/* Oid of the extension's schema. */
Oid
cs_extension_schema(void)
{
	return extension_field(false);
}

/* Owner of the extension: the role that writes the registry. */
Oid
cs_extension_owner(void)
{
	return extension_field(true);
}

/* "schema.table" for a registry table, quoted. */
char *
cs_registry_table(const char *table)
{
	return quote_qualified_identifier(get_namespace_name(cs_extension_schema()), table);
}

/* Prepares the lookup plans once per backend (again if the schema moved). */
static void
prepare_plans(void)
{
	Oid   schema = cs_extension_schema();
	Oid   argtypes[2] = { TEXTOID, INT4OID };
	char *models;

	if (resolve_latest_plan && plans_schema == schema)
		return;
	if (resolve_latest_plan)
	{
		SPI_freeplan(resolve_latest_plan);
		SPI_freeplan(resolve_version_plan);
		SPI_freeplan(fetch_blob_plan);
		resolve_latest_plan = resolve_version_plan = fetch_blob_plan = NULL;
	}
	models = cs_registry_table("cs_models");
	resolve_latest_plan = SPI_prepare(psprintf("SELECT model_id, version, xmin::text::bigint "
											   "FROM %s WHERE name = $1 "
											   "ORDER BY stage = 'production' DESC, version DESC "
											   "LIMIT 1",
											   models),
									  1,
									  argtypes);
	resolve_version_plan = SPI_prepare(psprintf("SELECT model_id, version, xmin::text::bigint "
												"FROM %s WHERE name = $1 AND version = $2",
												models),
									   2,
									   argtypes);
	argtypes[0] = INT8OID;
	fetch_blob_plan =
		SPI_prepare(psprintf("SELECT blob FROM %s WHERE model_id = $1", models), 1, argtypes);
	if (!resolve_latest_plan || !resolve_version_plan || !fetch_blob_plan)
		elog(ERROR, "could not prepare registry lookups: %s", SPI_result_code_string(SPI_result));
	SPI_keepplan(resolve_latest_plan);
	SPI_keepplan(resolve_version_plan);
	SPI_keepplan(fetch_blob_plan);
	plans_schema = schema;
}

/* Splits "name@N" into name and version (0 when there is none). */
static char *
parse_ref(const char *ref, int32 *version)
{
	const char *at = strrchr(ref, '@');
	char       *end;
	long        v;

	*version = 0;
	if (at == NULL)
		return pstrdup(ref);
	errno = 0;
	v = strtol(at + 1, &end, 10);
	if (at[1] == '\0' || *end != '\0' || errno != 0 || v <= 0 || v > PG_INT32_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid model reference \"%s\"", ref),
				 errhint("Use a model name, or name@version with a positive version.")));
	*version = (int32) v;
	return pnstrdup(ref, at - ref);
}

/* Resolves "name" or "name@3"; ERROR when no such model or version. */
void
cs_registry_resolve(const char *ref, CsModelRef *out)
{
	int32 version;
	char *name = parse_ref(ref, &version);
	Datum args[2];
	int   ret;
	bool  isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_plans();
	args[0] = CStringGetTextDatum(name);
	args[1] = Int32GetDatum(version);
	ret =
		SPI_execute_plan(version ? resolve_version_plan : resolve_latest_plan, args, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "registry lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
	{
		if (version)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("model \"%s\" has no version %d", name, version),
					 errhint("SELECT version, stage FROM cs_models WHERE name = '%s' lists "
							 "its versions.",
							 name)));
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model \"%s\" does not exist", name),
				 errhint("SELECT name, version FROM cs_models lists the registered models.")));
	}
	out->model_id =
		DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	out->version =
		DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	out->identity = (uint64) DatumGetInt64(
		SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	SPI_finish();
}

/*
 * The training profile of a model id (cs_models.profile), palloc'd in the
 * current context; NULL when the model has none (an imported model).  The
 * copy is made before SPI_finish frees SPI's memory.
 */
Jsonb *
cs_registry_profile(int64 model_id)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum         arg = Int64GetDatum(model_id);
	Oid           argtype = INT8OID;
	Jsonb        *profile = NULL;
	bool          isnull;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(psprintf("SELECT profile FROM %s WHERE model_id = $1",
									   cs_registry_table("cs_models")),
							  1,
							  &argtype,
							  &arg,
							  NULL,
							  true,
							  1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model %lld was deleted while in use", (long long) model_id)));
	{
		Datum         d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext spi = MemoryContextSwitchTo(caller);

		if (!isnull)
			profile = DatumGetJsonbPCopy(d);
		MemoryContextSwitchTo(spi);
	}
	SPI_finish();
	return profile;
}

/* The blob of a model id, palloc'd in the current context. */
bytea *
cs_registry_fetch_blob(int64 model_id)
{
	MemoryContext caller = CurrentMemoryContext;
	Datum         arg = Int64GetDatum(model_id);
	bytea        *blob = NULL;
	bool          isnull;
	int           ret;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	prepare_plans();
	ret = SPI_execute_plan(fetch_blob_plan, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "registry lookup failed: %s", SPI_result_code_string(ret));
	if (SPI_processed == 1)
	{
		Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			blob = DatumGetByteaPCopy(d);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	if (blob == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("model %lld was deleted while in use", (long long) model_id)));
	return blob;
}

/* Runs a registry statement as the extension's owner; returns SPI_processed. */
uint64
cs_registry_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls,
				 int expected)
{
	Oid save_user;
	int save_sec;
	int ret;

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(cs_extension_owner(), save_sec | SECURITY_LOCAL_USERID_CHANGE);
	ret = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	SetUserIdAndSecContext(save_user, save_sec);
	if (ret != expected)
		elog(ERROR, "registry statement failed (%s): %s", SPI_result_code_string(ret), sql);
	return SPI_processed;
}
