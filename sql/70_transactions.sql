-- Training inside an explicit transaction and under REPEATABLE READ: the
-- worker reads committed data and registers in its own transaction, so the
-- caller neither deadlocks nor needs to commit first.
SET client_min_messages = warning;
BEGIN;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'in_tx',
                exclude => ARRAY['id']) > 0 AS trained;
COMMIT;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM credit;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'in_rr',
                exclude => ARRAY['id']) > 0 AS trained;
-- this snapshot predates the registration; a new transaction sees it
SELECT count(*) AS visible_in_snapshot FROM cs_models WHERE name = 'in_rr';
COMMIT;
SELECT count(*) AS visible_after FROM cs_models WHERE name = 'in_rr';
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'in_ser',
                exclude => ARRAY['id']) > 0 AS trained;
COMMIT;
RESET client_min_messages;

-- rows the caller has not committed are not seen; a table created in the
-- same transaction is a clear error rather than a hang
BEGIN;
CREATE TABLE fresh AS SELECT * FROM credit;
SELECT cs_train('fresh', 'logistic_regression', 'status', 'bad');
ROLLBACK;
BEGIN;
LOCK TABLE credit IN ACCESS EXCLUSIVE MODE;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad');
ROLLBACK;

-- wait => false returns the run id at once; the job runs on
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'async',
                exclude => ARRAY['id'], wait => false) AS async_run \gset
DO $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN (SELECT status FROM cs_jobs WHERE model_name = 'async') <> 'running';
        PERFORM pg_sleep(0.1);
    END LOOP;
END $$;
SELECT status, phase, progress FROM cs_jobs WHERE model_name = 'async';
SELECT run_id = :async_run AS same_run, status FROM cs_runs r WHERE run_id = :async_run;

-- the concurrency cap
SET credit_scoring.max_training_workers = 0;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad');
RESET credit_scoring.max_training_workers;
