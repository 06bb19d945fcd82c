
# A training worker that dies without recording an outcome: cs_jobs reports
# its job as failed (not running), with an error saying the worker exited.
#   (a) pg_terminate_backend() of the worker while its caller waits: the
#       caller gets an error, the server goes on;
#   (b) kill -9 of the worker: the postmaster restarts every backend; after
#       reconnecting the job reads failed, and training works again.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('crash', conf => "restart_after_crash = on\n");
my $db = 'postgres';
load_credit($node, $db);

my $worker_exited =
  'the training worker exited without recording an outcome (killed, or the server restarted)';

sub train_slow_sql
{
	my ($name, $wait) = @_;
	return qq(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => '$name',
        exclude => ARRAY['id'], params => $SLOW_PARAMS, wait => $wait););
}

# --- (a) the worker is terminated while its caller waits -------------------------------------

my $caller = bg_session($node, $db);
bg_start($caller, train_slow_sql('terminated', 'true'));
my $job = wait_for_running_job($node, $db, 'terminated', 'training', 0.25);
ok(defined $job, 'SIGTERM: the job is training');
my $pid = sql_value($node, $db, "SELECT pid FROM cs_jobs WHERE job_id = $job");
is( sql_value(
		$node, $db,
		"SELECT backend_type || '|' || application_name FROM pg_stat_activity WHERE pid = $pid"),
	"credit_scoring training|credit_scoring job $job",
	'cs_jobs.pid is the training worker');
is(sql_value($node, $db, "SELECT pg_terminate_backend($pid)"), 't', 'pg_terminate_backend of the worker');
my ($out, $err) = bg_finish($caller);
like($err, qr/ERROR:  08006: training job $job ended without a result\n/,
	'SIGTERM: the waiting caller gets ERROR 08006 "training job N ended without a result"');
like($err, qr/DETAIL:  The worker exited unexpectedly; cs_jobs shows the job as failed\./,
	'SIGTERM: the detail points to cs_jobs');
ok(wait_until_no_workers($node, $db), 'SIGTERM: the worker is gone');
is( sql_value(
		$node, $db,
		"SELECT status || '|' || error FROM cs_jobs WHERE job_id = $job"),
	"failed|$worker_exited",
	'SIGTERM: cs_jobs shows the job failed, the worker having exited');
is(sql_value($node, $db, "SELECT status FROM cs_job_state WHERE job_id = $job"),
	'running', 'SIGTERM: (the stored row still says running; the view tells)');
is(sql_value($node, $db, "SELECT cs_cancel($job)"), 'f', 'SIGTERM: cs_cancel of the dead job returns false');
is(sql_value($node, $db, q(SELECT count(*) FROM cs_models WHERE name = 'terminated')),
	'0', 'SIGTERM: no model was registered');
is($caller->query_safe('SELECT 1'), '1', 'SIGTERM: the caller\'s session is still usable');
$caller->quit;

# --- (b) kill -9 of the worker: crash and restart --------------------------------------------

my $run = sql_value($node, $db, train_slow_sql('killed', 'false'));
like($run, qr/^\d+$/, 'kill -9: cs_train(wait => false) returns the run id');
$job = wait_for_running_job($node, $db, 'killed', 'training', 0.25);
ok(defined $job, 'kill -9: the job is training');
is(sql_value($node, $db, "SELECT run_id FROM cs_jobs WHERE job_id = $job"), $run,
	'kill -9: the job is that of the returned run');
$pid = sql_value($node, $db, "SELECT pid FROM cs_jobs WHERE job_id = $job");
like($pid, qr/^\d+$/, 'kill -9: cs_jobs gives the worker\'s pid');

my $log_offset = -s $node->logfile;
is(kill('KILL', $pid), 1, 'kill -9 of the worker');
$node->wait_for_log(qr/all server processes terminated; reinitializing/, $log_offset);
ok($node->log_contains(qr/\(PID $pid\) was terminated by signal 9/, $log_offset),
	'kill -9: the postmaster saw the worker die and restarted all backends');
ok($node->poll_query_until($db, 'SELECT 1', '1'), 'kill -9: the server accepts connections again');

is( sql_value(
		$node, $db,
		"SELECT status || '|' || error FROM cs_jobs WHERE job_id = $job"),
	"failed|$worker_exited",
	'kill -9: after reconnecting, cs_jobs shows the job failed (not running), the worker having exited');
is(sql_value($node, $db, q(SELECT count(*) FROM cs_jobs WHERE status = 'running')),
	'0', 'kill -9: no job reads running');
is(sql_value($node, $db, "SELECT count(*) FROM cs_runs WHERE run_id = $run"),
	'0', 'kill -9: the run was never recorded as finished');
is(sql_value($node, $db, q(SELECT count(*) FROM cs_models WHERE name = 'killed')),
	'0', 'kill -9: no model was registered');
is(sql_value($node, $db, "SELECT cs_cancel($job)"), 'f', 'kill -9: cs_cancel of the dead job returns false');

# training works again after the restart
my ($rc, $o, $e) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'killed',
      exclude => ARRAY['id'])));
is($rc, 0, 'after the restart, training works again') or diag($e);
is( sql_value(
		$node, $db,
		qq(SELECT j.status || '|' || m.version || '|' || (r.run_id > $run)
             FROM cs_jobs j JOIN cs_models m USING (run_id) JOIN cs_runs r USING (run_id)
            WHERE m.name = 'killed')),
	'succeeded|1|true',
	'after the restart: the new job succeeded, version 1, with a new run id');

$node->stop;
done_testing();
