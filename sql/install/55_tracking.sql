-- ------------------------------------------------------------------ tracking

-- Every stage change of a model version, kept after the version is deleted.
CREATE TABLE @extschema@.cs_stage_history (
    change_id   bigserial PRIMARY KEY,
    model_id    bigint NOT NULL,
    name        text NOT NULL,
    version     integer NOT NULL,
    from_stage  text NOT NULL,
    to_stage    text NOT NULL,  -- a stage, or 'deleted'
    changed_by  name NOT NULL DEFAULT session_user,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    comment     text
);
COMMENT ON TABLE @extschema@.cs_stage_history IS
    'Who moved which model version from which stage to which, and when.';
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_stage_history', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_stage_history_change_id_seq', '');

CREATE FUNCTION @extschema@.cs_set_stage(name text, version integer, stage text,
                                          comment text DEFAULT NULL)
    RETURNS SETOF @extschema@.cs_stage_history
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    m       @extschema@.cs_models;
    current @extschema@.cs_models;
BEGIN
    IF name IS NULL OR version IS NULL OR stage IS NULL THEN
        RAISE EXCEPTION 'name, version and stage must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF stage NOT IN ('none', 'staging', 'production', 'archived') THEN
        RAISE EXCEPTION 'invalid stage "%"', stage
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A stage is one of none, staging, production, archived.';
    END IF;
    -- versions of one name change under the lock that numbers them
    PERFORM pg_advisory_xact_lock(hashtext('credit_scoring model ' || cs_set_stage.name));
    SELECT * INTO m FROM cs_models c
     WHERE c.name = cs_set_stage.name AND c.version = cs_set_stage.version FOR UPDATE;
    IF NOT FOUND THEN
        IF NOT EXISTS (SELECT 1 FROM cs_models c WHERE c.name = cs_set_stage.name) THEN
            RAISE EXCEPTION 'model "%" does not exist', cs_set_stage.name
                USING ERRCODE = 'undefined_object';
        END IF;
        RAISE EXCEPTION 'model "%" has no version %', cs_set_stage.name, cs_set_stage.version
            USING ERRCODE = 'undefined_object';
    END IF;
    IF m.stage = stage THEN
        RETURN;
    END IF;
    -- one production version per name: the one there is archived
    IF stage = 'production' THEN
        FOR current IN SELECT * FROM cs_models c
                        WHERE c.name = m.name AND c.stage = 'production' FOR UPDATE LOOP
            UPDATE cs_models c SET stage = 'archived' WHERE c.model_id = current.model_id;
            RETURN QUERY INSERT INTO cs_stage_history (model_id, name, version, from_stage, to_stage, comment)
                VALUES (current.model_id, current.name, current.version, 'production', 'archived',
                        format('replaced by version %s', m.version))
                RETURNING *;
        END LOOP;
    END IF;
    UPDATE cs_models c SET stage = cs_set_stage.stage WHERE c.model_id = m.model_id;
    RETURN QUERY INSERT INTO cs_stage_history (model_id, name, version, from_stage, to_stage, comment)
        VALUES (m.model_id, m.name, m.version, m.stage, stage, cs_set_stage.comment)
        RETURNING *;
END $$;
COMMENT ON FUNCTION @extschema@.cs_set_stage(text, integer, text, text) IS
    'Moves a model version to none, staging, production or archived (the production version it replaces is archived); returns the changes, which cs_stage_history keeps.';

CREATE FUNCTION @extschema@.cs_delete_model(name text, version integer DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'model name must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('credit_scoring model ' || cs_delete_model.name));
    WITH gone AS (
        DELETE FROM cs_models c
         WHERE c.name = cs_delete_model.name
           AND (cs_delete_model.version IS NULL OR c.version = cs_delete_model.version)
        RETURNING c.model_id, c.name, c.version, c.stage)
    INSERT INTO cs_stage_history (model_id, name, version, from_stage, to_stage)
    SELECT model_id, gone.name, gone.version, stage, 'deleted' FROM gone;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n = 0 THEN
        IF version IS NULL THEN
            RAISE EXCEPTION 'model "%" does not exist', name USING ERRCODE = 'undefined_object';
        END IF;
        RAISE EXCEPTION 'model "%" has no version %', name, version USING ERRCODE = 'undefined_object';
    END IF;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.cs_delete_model(text, integer) IS
    'Deletes one version of a model, or every version when version is NULL; returns how many. The run stays; cs_stage_history records the deletion.';

CREATE FUNCTION @extschema@.cs_delete_run(run bigint)
    RETURNS integer
    LANGUAGE plpgsql VOLATILE STRICT SECURITY DEFINER
    SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    n integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM cs_runs r WHERE r.run_id = run) THEN
        RAISE EXCEPTION 'run % does not exist', run USING ERRCODE = 'undefined_object';
    END IF;
    -- its model versions go with it (no version may point at a missing run),
    -- and so do its child runs (a search's combinations) and theirs
    WITH RECURSIVE tree AS (
        SELECT r.run_id FROM cs_runs r WHERE r.run_id = run
        UNION ALL
        SELECT r.run_id FROM cs_runs r JOIN tree t ON r.parent_run = t.run_id),
    gone AS (
        DELETE FROM cs_models c WHERE c.run_id IN (SELECT run_id FROM tree)
        RETURNING c.model_id, c.name, c.version, c.stage)
    INSERT INTO cs_stage_history (model_id, name, version, from_stage, to_stage, comment)
    SELECT model_id, gone.name, gone.version, stage, 'deleted', format('run %s deleted', run)
      FROM gone;
    DELETE FROM cs_job_state j WHERE j.run_id IN (
        WITH RECURSIVE tree AS (
            SELECT r.run_id FROM cs_runs r WHERE r.run_id = run
            UNION ALL
            SELECT r.run_id FROM cs_runs r JOIN tree t ON r.parent_run = t.run_id)
        SELECT run_id FROM tree);
    DELETE FROM cs_runs r WHERE r.run_id = run;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
COMMENT ON FUNCTION @extschema@.cs_delete_run(bigint) IS
    'Deletes a run with its child runs, their model versions and their jobs.';

CREATE FUNCTION @extschema@.cs_tag_run(run bigint, key text, value text)
    RETURNS jsonb
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    r cs_runs;
BEGIN
    IF run IS NULL OR key IS NULL OR key = '' THEN
        RAISE EXCEPTION 'run and key must be given' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO r FROM cs_runs c WHERE c.run_id = run FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', run USING ERRCODE = 'undefined_object';
    END IF;
    IF NOT pg_has_role(session_user, r.created_by, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied to tag run %', run
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('Run %s belongs to role %s.', run, r.created_by);
    END IF;
    UPDATE cs_runs c
       SET tags = CASE WHEN value IS NULL THEN c.tags - key
                       ELSE c.tags || jsonb_build_object(key, value) END
     WHERE c.run_id = run
    RETURNING c.tags INTO r.tags;
    RETURN r.tags;
END $$;
COMMENT ON FUNCTION @extschema@.cs_tag_run(bigint, text, text) IS
    'Sets a tag on a run (a NULL value removes it); returns the run''s tags. The role that trained the run may tag it.';

CREATE FUNCTION @extschema@.cs_compare_runs(experiment text)
    RETURNS TABLE (run_id bigint, parent_run bigint, model_type text, status text,
                   started_at timestamptz, seconds float8, params jsonb, tags jsonb,
                   n_train bigint, data_fingerprint text,
                   test_auc float8, test_accuracy float8, test_log_loss float8, test_brier float8,
                   validation_auc float8, validation_accuracy float8,
                   validation_log_loss float8, validation_brier float8,
                   train_auc float8, models text)
    LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT r.run_id, r.parent_run, r.model_type, r.status, r.started_at,
           extract(epoch FROM r.ended_at - r.started_at)::float8, r.params, r.tags,
           r.n_train, r.data_fingerprint,
           (r.metrics #>> '{test,auc}')::float8, (r.metrics #>> '{test,accuracy}')::float8,
           (r.metrics #>> '{test,log_loss}')::float8, (r.metrics #>> '{test,brier}')::float8,
           (r.metrics #>> '{validation,auc}')::float8, (r.metrics #>> '{validation,accuracy}')::float8,
           (r.metrics #>> '{validation,log_loss}')::float8, (r.metrics #>> '{validation,brier}')::float8,
           (r.metrics #>> '{train,auc}')::float8,
           (SELECT string_agg(m.name || '@' || m.version, ', ' ORDER BY m.version)
              FROM @extschema@.cs_models m WHERE m.run_id = r.run_id)
      FROM @extschema@.cs_runs r
      JOIN @extschema@.cs_experiments e USING (experiment_id)
     WHERE e.name = experiment
     ORDER BY r.run_id
$$;
COMMENT ON FUNCTION @extschema@.cs_compare_runs(text) IS
    'The runs of an experiment side by side: parameters, tags, and one column per metric and split.';

CREATE FUNCTION @extschema@.cs_retrain(run bigint, wait boolean DEFAULT true)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    SET search_path = @extschema@, pg_temp
AS $$
DECLARE
    r       cs_runs;
    req     jsonb;
    threads text := current_setting('credit_scoring.training_threads', true);
    new_run bigint;
BEGIN
    SELECT * INTO r FROM cs_runs c WHERE c.run_id = run;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'run % does not exist', run USING ERRCODE = 'undefined_object';
    END IF;
    req := r.request;
    -- the same seed and thread count give the same model, bit for bit
    PERFORM set_config('credit_scoring.training_threads', r.threads::text, true);
    new_run := cs_train(relation => (req->>'relation')::regclass,
                        model_type => req->>'model_type',
                        target => req->>'target',
                        positive => req->>'positive',
                        name => req->>'name',
                        features => ARRAY(SELECT jsonb_array_elements_text(req->'features')),
                        exclude => ARRAY(SELECT jsonb_array_elements_text(req->'exclude')),
                        params => req->'params',
                        experiment => req->>'experiment',
                        wait => wait);
    PERFORM set_config('credit_scoring.training_threads', coalesce(threads, '1'), true);
    RETURN new_run;
END $$;
COMMENT ON FUNCTION @extschema@.cs_retrain(bigint, boolean) IS
    'Trains again from a run''s record (relation, features, parameters, seed, thread count); returns the new run id.';

-- changing stages and deleting are for the roles a DBA grants them to
REVOKE EXECUTE ON FUNCTION @extschema@.cs_set_stage(text, integer, text, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.cs_delete_model(text, integer) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.cs_delete_run(bigint) FROM PUBLIC;
