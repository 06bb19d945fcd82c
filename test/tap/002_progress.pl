
# Progress of a training job, visible from other sessions: cs_train(wait => false)
# returns the run id at once and cs_jobs follows the job (status, phase, progress
# fraction, message); a waiting caller receives the progress as NOTICEs.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = cs_node('progress');
my $db = 'postgres';
load_credit($node, $db);

# --- a waiting caller receives NOTICEs -------------------------------------------------------

my ($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', exclude => ARRAY['id'])));
is($rc, 0, 'cs_train with wait => true (the default) succeeds') or diag($err);
is($out, '1', 'it returns the run id');
like($err, qr/NOTICE:  00000: reading public\.credit\n/, 'NOTICE: reading');
like($err, qr/NOTICE:  00000: read $CREDIT_ROWS rows \(0 skipped: NULL target\)/,
	'NOTICE: rows read');
like($err, qr/NOTICE:  00000: training logistic_regression on 3118 rows with 13 features/,
	'NOTICE: training');
like($err, qr/NOTICE:  00000: registered model "credit" version 1 \(run 1\)/,
	'NOTICE: registered model');
like($err, qr/reading public\.credit.*read $CREDIT_ROWS rows.*training .*evaluating .*registered model/s,
	'the NOTICEs come in the order of the phases');
unlike($err, qr/ERROR|WARNING/, 'no error or warning');

# --- wait => false on a large table; progress seen from other sessions -----------------------

my $big_rows = 2_000_000;
$node->safe_psql(
	$db, qq(
CREATE TABLE big AS
SELECT (random() < 0.3) AS y, random() AS x1, random() AS x2, random() AS x3, random() AS x4,
       random() AS x5, random() AS x6, random() AS x7, random() AS x8, random() AS x9,
       random() AS x10
  FROM generate_series(1, $big_rows);
ANALYZE big;
));

my $run = sql_value($node, $db, q(SELECT cs_train('big', 'logistic_regression', 'y', wait => false)));
like($run, qr/^\d+$/, 'cs_train(wait => false) returns the run id at once');
my $job = sql_value($node, $db, "SELECT job_id FROM cs_job_state WHERE run_id = $run");
like($job, qr/^\d+$/, 'the job is recorded before cs_train(wait => false) returns');

ok( $node->poll_query_until(
		$db,
		"SELECT status = 'running' AND phase IN ('reading', 'training')
                AND progress > 0 AND progress < 1
           FROM cs_jobs WHERE job_id = $job"),
	'another session sees the job running, phase reading or training, 0 < progress < 1');

# sample the job until it is no longer running: progress never goes back
my @samples;
my $timer = IPC::Run::timer($PostgreSQL::Test::Utils::timeout_default);
$timer->start;
while (!$timer->is_expired)
{
	my $row = sql_value($node, $db,
		"SELECT status || '|' || phase || '|' || progress FROM cs_jobs WHERE job_id = $job");
	my ($status, $phase, $progress) = split /\|/, $row;
	last if $status ne 'running';
	push @samples, [ $phase, $progress ];
	usleep(50_000);
}
my $monotonic = 1;
for my $i (1 .. $#samples)
{
	$monotonic = 0 if $samples[$i][1] < $samples[ $i - 1 ][1];
}
ok(scalar(@samples) >= 1, 'the job was sampled while running')
  or diag('no sample');
ok($monotonic, 'progress never decreases while the job runs')
  or diag(explain(\@samples));
my %distinct = map { $_->[1] => 1 } @samples;
cmp_ok(scalar(keys %distinct), '>=', 2, 'the progress moves: at least two distinct fractions seen')
  or diag(explain(\@samples));
note('samples (phase, progress): ' . join(' ', map { "$_->[0]:$_->[1]" } @samples));
my %phase_ok = map { $_ => 1 } qw(starting reading training evaluating registering);
is(scalar(grep { !$phase_ok{ $_->[0] } } @samples), 0,
	'a running job is in one of the phases starting, reading, training, evaluating, registering')
  or diag(explain(\@samples));

ok(wait_for_job_status($node, $db, $job, 'succeeded'), 'the job succeeds');
is( sql_value(
		$node, $db,
		"SELECT phase || ' ' || progress || ' ' || message || ' ' || (error IS NULL)
           FROM cs_jobs WHERE job_id = $job"),
	'done 1 registered model big version 1 true',
	'cs_jobs of the finished job: phase done, progress 1, the registration message');
is(sql_value($node, $db, "SELECT status || ' ' || n_rows FROM cs_runs WHERE run_id = $run"),
	"succeeded $big_rows", 'the run read every row of the large table');

# --- progress in the training phase, seen within one transaction -----------------------------

# a fit that cannot converge stays in phase "training"; a session inside a
# transaction still sees its progress move (it is read live, not from a snapshot)
my $run2 = sql_value(
	$node, $db,
	qq(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'slow',
       exclude => ARRAY['id'], params => $SLOW_PARAMS, wait => false)));
my $job2 = wait_for_running_job($node, $db, 'slow', 'training', 0.25);
ok(defined $job2, 'the slow job reaches the training phase');
my $s = bg_session($node, $db);
$s->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
my $first = $s->query_safe(
	"SELECT status || '|' || phase || '|' || progress || '|' || message FROM cs_jobs WHERE job_id = $job2");
like($first, qr/^running\|training\|0\.(2[5-9]|[3-7]\d|8[0-5])\d*\|iteration \d+$/,
	'training phase: progress in [0.25, 0.85], message "iteration N"');
my ($progress1) = (split /\|/, $first)[2];
my $moved = 0;
$timer->start;
while (!$timer->is_expired)
{
	my $p = $s->query_safe("SELECT progress FROM cs_jobs WHERE job_id = $job2");
	if ($p > $progress1)
	{
		$moved = 1;
		last;
	}
	usleep(50_000);
}
ok($moved, 'inside one REPEATABLE READ transaction, the progress of the job moves');

# cancel the slow job: a transaction whose snapshot predates the job's end
# still sees the row "running"; cs_jobs should not call the job failed
is(sql_value($node, $db, "SELECT cs_cancel($job2)"), 't', 'cs_cancel of the slow job');
ok(wait_for_job_status($node, $db, $job2, 'cancelled'), 'the slow job is cancelled');
{
	my $seen = $s->query_safe("SELECT status || '|' || coalesce(error, '') FROM cs_jobs WHERE job_id = $job2");
	unlike($seen, qr/^failed\|the training worker exited/,
		'a transaction that began while the job ran does not see the cancelled job as failed');
}
$s->query_safe('COMMIT');
$s->quit;

$node->stop;
done_testing();
