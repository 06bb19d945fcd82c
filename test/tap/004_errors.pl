
# Errors in the training worker are recorded (cs_jobs and cs_runs, status
# failed, with the message) and re-raised in the waiting caller with their
# SQLSTATE, detail and hint; a request refused by cs_train itself starts no job.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('errors');
my $db = 'postgres';
load_credit($node, $db);
$node->safe_psql($db,
	'CREATE TABLE credit_nulls AS SELECT c.*, NULL::integer AS empty FROM credit c');

# The recorded outcome of the job of model $name: job and run failed with $msg.
sub check_failed
{
	my ($name, $msg, $what) = @_;
	my $job = sql_value($node, $db, "SELECT max(job_id) FROM cs_job_state WHERE model_name = '$name'");

	like($job, qr/^\d+$/, "$what: a job was started");
	ok(wait_for_job_status($node, $db, $job, 'failed'), "$what: cs_jobs shows the job failed");
	is(sql_value($node, $db, "SELECT error FROM cs_jobs WHERE job_id = $job"),
		$msg, "$what: cs_jobs.error holds the error text");
	is( sql_value(
			$node, $db,
			"SELECT r.status || '|' || r.error || '|' || (r.n_rows IS NULL)
               FROM cs_runs r JOIN cs_job_state j USING (run_id) WHERE j.job_id = $job"),
		"failed|$msg|true",
		"$what: cs_runs has a failed run with the error text");
	is(sql_value($node, $db, "SELECT count(*) FROM cs_models WHERE name = '$name'"),
		'0', "$what: no model was registered");
	return $job;
}

# --- a target with more than two values ------------------------------------------------------

my ($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'home', 'rent', name => 'nonbinary',
      exclude => ARRAY['id'])));
isnt($rc, 0, 'non-binary target: cs_train fails');
like($err, qr/ERROR:  22023: target column "home" is not binary\n/,
	'non-binary target: ERROR 22023 in the caller');
like($err, qr/DETAIL:  It has more than two distinct values, among them "[^"]+", "[^"]+" and "[^"]+"\./,
	'non-binary target: the detail names three values');
like($err, qr/HINT:  Train on a view that maps the target to two values\./,
	'non-binary target: the hint');
my $job = check_failed('nonbinary', 'target column "home" is not binary', 'non-binary target');
like($err, qr/CONTEXT:  training job $job\n/, 'non-binary target: the context names the job');

# --- a feature that is NULL in every row -----------------------------------------------------

($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit_nulls', 'logistic_regression', 'status', 'bad', name => 'nulls',
      exclude => ARRAY['id'])));
isnt($rc, 0, 'all-NULL feature: cs_train fails');
like($err, qr/ERROR:  22023: feature "empty" is entirely NULL\n/,
	'all-NULL feature: ERROR 22023 naming the column');
like($err, qr/HINT:  Leave the column out with exclude => ARRAY\['\.\.\.'\]\./,
	'all-NULL feature: the hint');
check_failed('nulls', 'feature "empty" is entirely NULL', 'all-NULL feature');

($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit_nulls', 'logistic_regression', 'status', 'bad', name => 'nulls',
      exclude => ARRAY['id', 'empty'])));
is($rc, 0, 'all-NULL feature: excluding the column, training succeeds') or diag($err);
is(sql_value($node, $db, q(SELECT version FROM cs_models WHERE name = 'nulls')),
	'1', 'the failed run did not use up a model version');

# --- a fit that does not converge (an error in the training phase) ----------------------------

($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'noconv',
      exclude => ARRAY['id'], params => '{"tol": 1e-300, "max_iter": 3}')));
like($err,
	qr/ERROR:  22023: logistic regression did not converge in 3 iterations; raise max_iter\n/,
	'no convergence: ERROR 22023 in the caller');
check_failed('noconv', 'logistic regression did not converge in 3 iterations; raise max_iter',
	'no convergence');

# --- wait => false: the error is recorded, nobody is told ------------------------------------

($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'home', 'rent', name => 'nonbinary_nowait',
      exclude => ARRAY['id'], wait => false)));
is($rc, 0, 'wait => false: cs_train returns') or diag($err);
like($out, qr/^\d+$/, 'wait => false: it returns the run id');
unlike($err, qr/ERROR/, 'wait => false: the caller gets no error');
check_failed('nonbinary_nowait', 'target column "home" is not binary', 'wait => false');

# --- refused by cs_train itself: no job ------------------------------------------------------

my $jobs_before = sql_value($node, $db, 'SELECT count(*) FROM cs_job_state');
($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', features => ARRAY['nope'])));
like($err, qr/ERROR:  42703: column "nope" of relation "credit" does not exist/,
	'an unknown feature column: ERROR 42703');
($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', exclude => ARRAY['id'])));
like($err, qr/ERROR:  22023: cs_train needs "positive" for target "status" of type text/,
	'a text target without positive: ERROR 22023');
($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"max_iters": 5}')));
like($err, qr/ERROR:  22023: .*max_iters/, 'an unknown hyperparameter: ERROR 22023 naming it');
is(sql_value($node, $db, 'SELECT count(*) FROM cs_job_state'),
	$jobs_before, 'requests refused by cs_train start no job');

# --- the tally -------------------------------------------------------------------------------

is( sql_value(
		$node, $db,
		q(SELECT string_agg(status || ':' || n, ',' ORDER BY status)
            FROM (SELECT status, count(*) AS n FROM cs_runs GROUP BY status) s)),
	'failed:4,succeeded:1',
	'cs_runs: four failed runs and one succeeded');
is( sql_value(
		$node, $db,
		q(SELECT string_agg(status || ':' || n, ',' ORDER BY status)
            FROM (SELECT status, count(*) AS n FROM cs_jobs GROUP BY status) s)),
	'failed:4,succeeded:1',
	'cs_jobs: four failed jobs and one succeeded');

$node->stop;
done_testing();
