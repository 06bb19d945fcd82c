-- ---------------------------------------------------------------------- jobs

CREATE FUNCTION @extschema@.cs_job_live(job bigint, OUT alive boolean, OUT pid integer,
                                         OUT status text, OUT phase text, OUT progress float8,
                                         OUT message text, OUT error text)
    RETURNS record
    AS 'MODULE_PATHNAME', 'cs_job_live_sql'
    LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_job_live(bigint) IS
    'Current state of a job: from its live worker, else from the latest committed row (failed if the worker died).';

-- a job the reader's snapshot shows as running is looked up live
CREATE VIEW @extschema@.cs_jobs AS
SELECT j.job_id, j.run_id, j.model_name, j.model_type, j.relation,
       coalesce(l.status, j.status) AS status,
       coalesce(l.phase, j.phase) AS phase,
       coalesce(l.progress, j.progress) AS progress,
       CASE WHEN l.status IS NULL THEN j.message ELSE l.message END AS message,
       CASE WHEN l.status IS NULL THEN j.error ELSE l.error END AS error,
       j.pid, j.role, j.started_at, j.ended_at
  FROM @extschema@.cs_job_state j
  LEFT JOIN LATERAL (SELECT * FROM @extschema@.cs_job_live(j.job_id)
                      WHERE j.status = 'running') l ON true;
COMMENT ON VIEW @extschema@.cs_jobs IS
    'Training jobs: status, phase, progress fraction, message, error, pid; a job whose worker died reads failed.';

