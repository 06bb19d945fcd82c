
# Only training workers load OpenBLAS: a backend that scores (and one that
# waits for its own training job) stays single-threaded and never maps the
# library.  The training worker, a separate process, does map it.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

plan skip_all => 'needs /proc (Linux)' unless -r "/proc/$$/status";

my $node = cs_node('threads');
my $db = 'postgres';
load_credit($node, $db);

# Threads: of a process, from /proc/<pid>/status.
sub threads_of
{
	my ($pid) = @_;
	my $status = slurp_file("/proc/$pid/status");
	return $status =~ /^Threads:\s+(\d+)$/m ? $1 : undef;
}

# The shared objects a process maps, from /proc/<pid>/maps.
sub maps_of
{
	my ($pid) = @_;
	return slurp_file("/proc/$pid/maps");
}

my $s = bg_session($node, $db);
$s->query_safe('SET client_min_messages = warning');
my $pid = $s->query_safe('SELECT pg_backend_pid()');
like($pid, qr/^\d+$/, 'the scoring session\'s backend pid');

# this backend trains (waiting for its worker), then scores every row
my $run = $s->query_safe(
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'credit_risk',
      exclude => ARRAY['id'])));
like($run, qr/^\d+$/, 'the session trained a model (the worker did)');
is( $s->query_safe(
		q(SELECT count(*) || ' ' || count(p) FROM (SELECT cs_predict('credit_risk', c.*) AS p FROM credit c) s)),
	"$CREDIT_ROWS $CREDIT_ROWS",
	'the session scored every row with cs_predict');
is( $s->query_safe(
		q(SELECT count(*) FROM credit c, cs_models m
           WHERE cs_predict(m.blob, c.*) IS NOT NULL AND cs_predict(m.blob, to_jsonb(c)) IS NOT NULL)),
	$CREDIT_ROWS, 'and with the blob variants, record and jsonb');

my $maps = maps_of($pid);
like($maps, qr/credit_scoring\.so/, 'the scoring backend has loaded credit_scoring.so');
unlike($maps, qr/openblas/i, 'the scoring backend has not loaded OpenBLAS (/proc/<pid>/maps)');
unlike($maps, qr/libblas|liblapack/i, 'nor any other BLAS');
is(threads_of($pid), 1, 'the scoring backend has one thread (/proc/<pid>/status: Threads: 1)');

# the training worker is the process that loads OpenBLAS: catch one while it
# fits (a fit that cannot converge stays in the training phase)
my $run2 = sql_value(
	$node, $db,
	qq(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'slow',
       exclude => ARRAY['id'], params => $SLOW_PARAMS, wait => false)));
my $job = wait_for_running_job($node, $db, 'slow', 'training', 0.25);
ok(defined $job, 'a training job is fitting');
my $wpid = sql_value($node, $db, "SELECT pid FROM cs_jobs WHERE job_id = $job");
like(maps_of($wpid), qr/openblas/i, 'the training worker has loaded OpenBLAS');
isnt($wpid, $pid, 'the training worker is not the scoring backend');
is(sql_value($node, $db, "SELECT cs_cancel($job)"), 't', 'the slow job is cancelled');
ok(wait_for_job_status($node, $db, $job, 'cancelled'), 'the slow job ends cancelled');

# scoring again after the training: still no OpenBLAS in the session
is($s->query_safe(q(SELECT count(cs_predict('credit_risk', c.*)) FROM credit c)),
	$CREDIT_ROWS, 'the session scores again');
unlike(maps_of($pid), qr/openblas/i, 'the scoring backend still has not loaded OpenBLAS');
is(threads_of($pid), 1, 'the scoring backend still has one thread');

$s->quit;
$node->stop;
done_testing();
