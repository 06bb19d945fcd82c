
# CsTest.pm - helpers shared by the TAP tests of credit_scoring (test/tap/*.pl).
#
# Each test file starts its own node (cs_node), loads the credit data as the
# regression suite does (load_credit), and talks to it through psql: one-shot
# calls that capture stdout, stderr and the exit code with VERBOSITY verbose
# (so errors carry their SQLSTATE: "ERROR:  42501: ..."), and long-lived
# background sessions (bg_session) for callers that wait on a training job.
#
# Slow jobs without timing assumptions:
#   - the gate: a view over credit whose rows each take a shared advisory lock;
#     while a session holds the lock exclusively (gate_close), a job reading the
#     view stays in phase "reading" without using CPU; gate_open lets it finish.
#   - SLOW_PARAMS: a logistic regression that cannot converge (tol far below
#     rounding), so it stays in phase "training" for 100,000 Newton iterations
#     (about a minute on the credit data) unless it is cancelled or killed.
#
# The data set is found through CS_SRCDIR (set by test/run_tests.sh), else
# relative to this file.

package CsTest;

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use Exporter 'import';
our @EXPORT = qw(
  cs_node srcdir load_credit create_gate gate_close gate_open
  run_sql sql_value bg_session bg_start bg_finish bg_wait_exit
  wait_for_job_status wait_for_running_job wait_until_no_workers
  $SLOW_PARAMS $CREDIT_ROWS
);

# A fit that never converges: about 0.5 ms per iteration on the credit data.
our $SLOW_PARAMS = q('{"tol": 1e-300, "max_iter": 100000}');

# Rows of test/data/credit_data.csv.
our $CREDIT_ROWS = 4454;

my $GATE_KEY = 4242;

# The repository (or its copy) that holds test/data.
sub srcdir
{
	return $ENV{CS_SRCDIR} if defined $ENV{CS_SRCDIR} && $ENV{CS_SRCDIR} ne '';
	return abs_path(dirname(__FILE__) . '/../..');
}

# A started node: max_worker_processes = 16 and C messages, plus extra
# postgresql.conf lines.
sub cs_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);

	$node->init;
	$node->append_conf(
		'postgresql.conf', qq(
max_worker_processes = 16
lc_messages = 'C'
extra_float_digits = 1
log_min_messages = warning
) . ($opts{conf} // ''));
	$node->start;
	return $node;
}

# CREATE EXTENSION and the credit table, as sql/00_setup.sql does.
sub load_credit
{
	my ($node, $db) = @_;
	my $csv = srcdir() . '/test/data/credit_data.csv';

	die "no data set at $csv" unless -r $csv;
	$csv =~ s/'/''/g;
	$node->safe_psql(
		$db, qq(
CREATE EXTENSION credit_scoring;
CREATE TABLE credit (
    id serial PRIMARY KEY,
    status text, seniority integer, home text, time integer, age integer,
    marital text, records text, job text, expenses integer, income integer,
    assets integer, debt integer, amount integer, price integer);
COPY credit (status, seniority, home, time, age, marital, records, job, expenses,
             income, assets, debt, amount, price)
    FROM '$csv' WITH (FORMAT csv, HEADER true);
ANALYZE credit;
));
	return;
}

# The gate: the view credit_gated, whose rows wait while the gate is closed.
sub create_gate
{
	my ($node, $db) = @_;

	$node->safe_psql(
		$db, qq(
CREATE FUNCTION cs_test_gate() RETURNS boolean LANGUAGE sql VOLATILE
    AS \$\$ SELECT pg_advisory_xact_lock_shared($GATE_KEY) IS NOT NULL \$\$;
CREATE VIEW credit_gated AS SELECT c.* FROM credit c WHERE cs_test_gate();
));
	return;
}

# Closes the gate from a background session (which keeps it closed).
sub gate_close
{
	my ($session) = @_;
	$session->query_safe("SELECT pg_advisory_lock($GATE_KEY)");
	return;
}

# Opens the gate held by the session.
sub gate_open
{
	my ($session) = @_;
	my $r = $session->query_safe("SELECT pg_advisory_unlock($GATE_KEY)");
	die "the gate was not closed by this session" unless $r eq 't';
	return;
}

# Runs SQL in a new psql: returns (exit code, stdout, stderr).  Errors are
# verbose (with their SQLSTATE); the script stops at the first error.
# Options: role (connect as that role), timeout (seconds, default 180).
sub run_sql
{
	my ($node, $db, $sql, %opts) = @_;
	my ($out, $err) = ('', '');
	my $connstr = $node->connstr($db);

	$connstr .= " user=$opts{role}" if defined $opts{role};
	my $rc = $node->psql(
		$db, $sql,
		connstr => $connstr,
		stdout => \$out,
		stderr => \$err,
		extra_params => [ '-v', 'VERBOSITY=verbose' ],
		timeout => $opts{timeout} // $PostgreSQL::Test::Utils::timeout_default,
		on_error_stop => 1);
	return ($rc, $out, $err);
}

# The output of a query that must succeed (optionally as a role).
sub sql_value
{
	my ($node, $db, $sql, %opts) = @_;
	my ($rc, $out, $err) = run_sql($node, $db, $sql, %opts);

	die "query failed (rc $rc): $sql\n$err" if $rc != 0;
	return $out;
}

# A long-lived psql session that goes on after errors, with verbose errors
# and a fresh timeout per query.  Options: role.
sub bg_session
{
	my ($node, $db, %opts) = @_;
	my @extra = ('-v', 'VERBOSITY=verbose');

	push @extra, '-U', $opts{role} if defined $opts{role};
	my $s = $node->background_psql($db, on_error_stop => 0,
		extra_params => \@extra);
	$s->set_query_timer_restart();
	$s->{stderr} = '';
	return $s;
}

# Sends SQL to a background session without waiting for it to finish.
sub bg_start
{
	my ($s, $sql) = @_;

	$s->{stderr} = '';
	$s->query_until(qr/__cs_sent__\r?\n/, "\\echo __cs_sent__\n$sql\n");
	return;
}

# Waits for what bg_start sent to finish: returns (stdout, stderr).
sub bg_finish
{
	my ($s) = @_;
	my $out = $s->query("\\echo __cs_finished__");
	my $err = $s->{stderr};

	$out =~ s/\r?\n?__cs_finished__\s*$//;
	$s->{stderr} = '';
	return ($out, $err);
}

# Waits for the psql of a background session to exit by itself (e.g. after
# a Ctrl-C in script mode); returns (stdout, stderr, exit code).
sub bg_wait_exit
{
	my ($s) = @_;
	my $run = $s->{run};

	$s->{timeout}->start();
	while ($run->pumpable)
	{
		$run->pump_nb;
		die "psql did not exit" if $s->{timeout}->is_expired;
		usleep(20_000);
	}
	$run->finish;
	return ($s->{stdout}, $s->{stderr}, $run->result(0));
}

# Polls until job $job has status $status in cs_jobs.
sub wait_for_job_status
{
	my ($node, $db, $job, $status) = @_;

	return $node->poll_query_until($db,
		"SELECT status FROM cs_jobs WHERE job_id = $job", $status);
}

# Polls until a job of model $name is running in phase $phase (and, when
# given, with progress above $min_progress); returns its job id, or undef.
sub wait_for_running_job
{
	my ($node, $db, $name, $phase, $min_progress) = @_;
	my $cond = "model_name = '$name' AND status = 'running' AND phase = '$phase'";

	$cond .= " AND progress > $min_progress" if defined $min_progress;
	return undef
	  unless $node->poll_query_until($db,
		"SELECT count(*) = 1 FROM cs_jobs WHERE $cond");
	return $node->safe_psql($db, "SELECT job_id FROM cs_jobs WHERE $cond");
}

# Polls until no training worker is alive in the cluster.
sub wait_until_no_workers
{
	my ($node, $db) = @_;

	return $node->poll_query_until($db,
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'credit_scoring training'",
		'0');
}

1;
