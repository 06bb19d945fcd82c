
# Cancellation: cs_cancel() from another session, the waiting client's
# Ctrl-C, pg_cancel_backend() of the waiting backend and statement_timeout all
# stop the job, which is recorded as cancelled (job and run) and registers no
# model; the waiting caller gets SQLSTATE 57014.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('cancel');
my $db = 'postgres';
load_credit($node, $db);
create_gate($node, $db);
$node->safe_psql(
	$db, q(
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
GRANT SELECT ON credit, credit_gated TO alice;
));

# The outcome of a cancelled job: cs_jobs, cs_runs and cs_models.
sub check_cancelled
{
	my ($job, $name, $what) = @_;

	ok(wait_for_job_status($node, $db, $job, 'cancelled'), "$what: cs_jobs shows the job cancelled");
	is(sql_value($node, $db, "SELECT error FROM cs_jobs WHERE job_id = $job"),
		"training job $job was cancelled", "$what: cs_jobs.error says it was cancelled");
	is( sql_value(
			$node, $db,
			"SELECT r.status || '|' || r.error || '|' || (r.run_id = j.run_id)
               FROM cs_runs r JOIN cs_job_state j USING (job_id) WHERE job_id = $job"),
		"cancelled|training job $job was cancelled|true",
		"$what: cs_runs has the run, status cancelled");
	is(sql_value($node, $db, "SELECT count(*) FROM cs_models WHERE name = '$name'"),
		'0', "$what: no model was registered under that name");
	ok( $node->poll_query_until(
			$db,
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'credit_scoring job $job'",
			'0'),
		"$what: the worker is gone");
	return;
}

# --- (a) cs_cancel from another session, the caller waiting, the job training ----------------

my $caller = bg_session($node, $db);
bg_start($caller,
	qq(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'cancel_a',
       exclude => ARRAY['id'], params => $SLOW_PARAMS);));
my $job = wait_for_running_job($node, $db, 'cancel_a', 'training', 0.25);
ok(defined $job, 'cs_cancel: the job is running, in the training phase');
is(sql_value($node, $db, "SELECT cs_cancel($job)"), 't', 'cs_cancel of a running job returns true');
my ($out, $err) = bg_finish($caller);
like($err, qr/ERROR:  57014: training job $job was cancelled\nCONTEXT:  training job $job/,
	'cs_cancel: the waiting caller gets ERROR 57014 "training job N was cancelled"');
is($out, '', 'cs_cancel: the caller gets no run id');
check_cancelled($job, 'cancel_a', 'cs_cancel');
is(sql_value($node, $db, "SELECT cs_cancel($job)"), 'f', 'cs_cancel of a finished job returns false');
is(sql_value($node, $db, 'SELECT cs_cancel(424242)'), 'f', 'cs_cancel of an unknown job returns false');

# the session goes on: it can train again
$out = $caller->query(
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'after_cancel',
      exclude => ARRAY['id']) > 0));
is($out, 't', 'the caller\'s session trains again after the cancellation');
$caller->{stderr} = '';

# --- cs_cancel of a job started with wait => false, and who may cancel it ------------------

my $gate = bg_session($node, $db);
gate_close($gate);
my $run = sql_value(
	$node, $db,
	q(SELECT cs_train('credit_gated', 'logistic_regression', 'status', 'bad', name => 'cancel_nowait',
      exclude => ARRAY['id'], wait => false)),
	role => 'alice');
$job = wait_for_running_job($node, $db, 'cancel_nowait', 'reading');
ok(defined $job, 'wait => false: the job is running (reading, held by the gate)');
my ($rc, $o, $e) = run_sql($node, $db, "SELECT cs_cancel($job)", role => 'bob');
like($e, qr/ERROR:  42501: permission denied to cancel training job $job/,
	'another role may not cancel the job (42501)');
is(sql_value($node, $db, "SELECT status FROM cs_jobs WHERE job_id = $job"),
	'running', 'the refused cancellation left the job running');
is(sql_value($node, $db, "SELECT cs_cancel($job)", role => 'alice'),
	't', 'the role that started the job may cancel it');
check_cancelled($job, 'cancel_nowait', 'wait => false');
is(sql_value($node, $db, "SELECT job_id FROM cs_runs WHERE run_id = $run"),
	$job, 'the cancelled run is the one cs_train(wait => false) returned');

# --- (b) the waiting client's Ctrl-C ---------------------------------------------------------

my $train_gated = q(SELECT cs_train('credit_gated', 'logistic_regression', 'status', 'bad',
    name => 'NAME', exclude => ARRAY['id']););
my $ctrlc = bg_session($node, $db);
(my $sql = $train_gated) =~ s/NAME/cancel_ctrlc/;
bg_start($ctrlc, $sql);
$job = wait_for_running_job($node, $db, 'cancel_ctrlc', 'reading');
ok(defined $job, 'Ctrl-C: the job is running');
# SIGINT to psql is what Ctrl-C does: psql sends a cancel request for the running
# query (and, reading a script, then exits)
$ctrlc->{run}->signal('INT');
my ($cout, $cerr) = bg_wait_exit($ctrlc);
like($cerr, qr/ERROR:  57014: canceling statement due to user request/,
	'Ctrl-C: the caller gets ERROR 57014 "canceling statement due to user request"');
check_cancelled($job, 'cancel_ctrlc', 'Ctrl-C');

# --- (b') pg_cancel_backend() of the waiting backend (the client's cancel request) ------------

my $pgc = bg_session($node, $db);
my $pid = $pgc->query_safe('SELECT pg_backend_pid()');
($sql = $train_gated) =~ s/NAME/cancel_backend/;
bg_start($pgc, $sql);
$job = wait_for_running_job($node, $db, 'cancel_backend', 'reading');
ok(defined $job, 'pg_cancel_backend: the job is running');
is(sql_value($node, $db, "SELECT pg_cancel_backend($pid)"), 't', 'pg_cancel_backend of the caller');
($out, $err) = bg_finish($pgc);
like($err, qr/ERROR:  57014: canceling statement due to user request/,
	'pg_cancel_backend: the caller gets ERROR 57014');
check_cancelled($job, 'cancel_backend', 'pg_cancel_backend');

# --- (b'') statement_timeout of the caller ---------------------------------------------------

$pgc->query_safe("SET statement_timeout = '2s'");
($sql = $train_gated) =~ s/NAME/cancel_timeout/;
bg_start($pgc, $sql);
($out, $err) = bg_finish($pgc);
like($err, qr/ERROR:  57014: canceling statement due to statement timeout/,
	'statement_timeout: the caller gets ERROR 57014 "canceling statement due to statement timeout"');
$job = sql_value($node, $db, q(SELECT job_id FROM cs_job_state WHERE model_name = 'cancel_timeout'));
like($job, qr/^\d+$/, 'statement_timeout: the job had started');
check_cancelled($job, 'cancel_timeout', 'statement_timeout');
$pgc->query_safe('RESET statement_timeout');

# --- a caller interrupted before its worker reported "started" --------------------------------

# The worker records its job before it tells the caller the job id; hold it there
# (a lock on cs_job_state) and let the caller's statement_timeout fire meanwhile.
my $locker = bg_session($node, $db);
$locker->query_safe('BEGIN; LOCK TABLE cs_job_state IN EXCLUSIVE MODE;');
(my $early = $train_gated) =~ s/NAME/cancel_early/;
$early =~ s/credit_gated/credit/;
($rc, $o, $e) = run_sql($node, $db, "SET statement_timeout = '1s';\n$early", timeout => 60);
like($e, qr/ERROR:  57014: canceling statement due to statement timeout/,
	'interrupted before "started": the caller gets ERROR 57014');
$locker->query_safe('COMMIT');
ok(wait_until_no_workers($node, $db), 'interrupted before "started": the worker ends');
{
	is(sql_value($node, $db, q(SELECT count(*) FROM cs_models WHERE name = 'cancel_early')),
		'0', 'interrupted before "started": the job does not go on to register a model');
}
$locker->quit;

# --- nothing is left behind ------------------------------------------------------------------

gate_open($gate);
ok(wait_until_no_workers($node, $db), 'no training worker is left');
is(sql_value($node, $db, q(SELECT count(*) FROM cs_jobs WHERE status = 'running')),
	'0', 'no job is left running');
($sql = $train_gated) =~ s/NAME/after_gate/;
($rc, $o, $e) = run_sql($node, $db, $sql);
is($rc, 0, 'with the gate open, training the gated view succeeds') or diag($e);
is( sql_value(
		$node, $db,
		q(SELECT status || ' ' || n_rows FROM cs_runs ORDER BY run_id DESC LIMIT 1)),
	"succeeded $CREDIT_ROWS", 'the last run succeeded and read every row');
is( sql_value(
		$node, $db,
		q(SELECT string_agg(status || ':' || n, ',' ORDER BY status)
            FROM (SELECT status, count(*) AS n FROM cs_runs
                   WHERE job_id NOT IN (SELECT job_id FROM cs_job_state WHERE model_name = 'cancel_early')
                   GROUP BY status) s)),
	'cancelled:5,succeeded:2',
	'cs_runs: five cancelled runs and two succeeded ones (cancel_early never started)');

$gate->quit;
$pgc->quit;
$caller->quit;
$node->stop;
done_testing();
