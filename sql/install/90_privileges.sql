-- ---------------------------------------------------------------- privileges

-- everyone may read the registry and score; only training jobs (as the
-- extension owner) and the owner write it
REVOKE ALL ON @extschema@.cs_experiments, @extschema@.cs_runs, @extschema@.cs_models,
              @extschema@.cs_job_state, @extschema@.cs_stage_history FROM PUBLIC;
GRANT SELECT ON @extschema@.cs_experiments, @extschema@.cs_runs, @extschema@.cs_models,
                @extschema@.cs_job_state, @extschema@.cs_jobs, @extschema@.cs_stage_history
   TO PUBLIC;

