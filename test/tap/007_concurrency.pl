
# The cap on concurrent training jobs, credit_scoring.max_training_workers:
# it counts the training workers alive in the whole cluster (every database);
# a cs_train over the cap fails at once with SQLSTATE 53400 and starts no job;
# once a job ends, training works again.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('concurrency', conf => "credit_scoring.max_training_workers = 1\n");
my $db = 'postgres';
load_credit($node, $db);
create_gate($node, $db);
$node->safe_psql($db, 'CREATE DATABASE other');
load_credit($node, 'other');

is(sql_value($node, $db, "LOAD 'credit_scoring'; SHOW credit_scoring.max_training_workers"),
	'1', 'credit_scoring.max_training_workers = 1 (postgresql.conf)');

sub train_sql
{
	my ($relation, $name, $wait) = @_;
	return qq(SELECT cs_train('$relation', 'logistic_regression', 'status', 'bad', name => '$name',
        exclude => ARRAY['id'], wait => $wait));
}

# one long job (held by the gate), started with wait => false
my $gate = bg_session($node, $db);
gate_close($gate);
my $run1 = sql_value($node, $db, train_sql('credit_gated', 'first', 'false'));
my $job1 = wait_for_running_job($node, $db, 'first', 'reading');
ok(defined $job1, 'the first job is running');
my $jobs_before = sql_value($node, $db, 'SELECT count(*) FROM cs_job_state');

# a second cs_train is refused
my ($rc, $out, $err) = run_sql($node, $db, train_sql('credit', 'second', 'true'), timeout => 60);
isnt($rc, 0, 'a second cs_train fails while the first job runs');
like($err, qr/ERROR:  53400: too many training jobs are running \(1 of at most 1\)\n/,
	'the second cs_train: ERROR 53400 "too many training jobs are running (1 of at most 1)"');
like($err, qr/HINT:  Wait for a job to finish \(see cs_jobs\), or raise credit_scoring\.max_training_workers\./,
	'the second cs_train: the hint');
($rc, $out, $err) = run_sql($node, $db, train_sql('credit', 'second', 'false'), timeout => 60);
like($err, qr/ERROR:  53400: too many training jobs/, 'with wait => false too: ERROR 53400');
($rc, $out, $err) = run_sql($node, 'other', train_sql('credit', 'second', 'true'), timeout => 60);
like($err, qr/ERROR:  53400: too many training jobs are running \(1 of at most 1\)/,
	'in another database too: the cap is cluster-wide');
is(sql_value($node, $db, 'SELECT count(*) FROM cs_job_state'), $jobs_before,
	'the refused requests started no job');
is(sql_value($node, 'other', 'SELECT count(*) FROM cs_job_state'), '0',
	'nor in the other database');
is(sql_value($node, $db, "SELECT status FROM cs_jobs WHERE job_id = $job1"), 'running',
	'the first job still runs');

# the first job finishes; training works again
gate_open($gate);
ok(wait_for_job_status($node, $db, $job1, 'succeeded'), 'the first job succeeds once the gate opens');
ok(wait_until_no_workers($node, $db), 'its worker is gone');
($rc, $out, $err) = run_sql($node, $db, train_sql('credit', 'second', 'true'), timeout => 120);
is($rc, 0, 'after the first job, training works again') or diag($err);
is(sql_value($node, $db, "SELECT status || ' ' || n_rows FROM cs_runs WHERE run_id = $out"),
	"succeeded $CREDIT_ROWS", 'the second run succeeded');
($rc, $out, $err) = run_sql($node, 'other', train_sql('credit', 'second', 'true'), timeout => 120);
is($rc, 0, 'and in the other database') or diag($err);

# raise the cap to 2 (ALTER SYSTEM and reload): two jobs run, a third is refused
$node->safe_psql($db, 'ALTER SYSTEM SET credit_scoring.max_training_workers = 2');
$node->reload;
ok( $node->poll_query_until(
		$db, "SHOW credit_scoring.max_training_workers", '2'),
	'the cap is now 2');
gate_close($gate);
sql_value($node, $db, train_sql('credit_gated', 'third', 'false'));
sql_value($node, $db, train_sql('credit_gated', 'fourth', 'false'));
my $job3 = wait_for_running_job($node, $db, 'third', 'reading');
my $job4 = wait_for_running_job($node, $db, 'fourth', 'reading');
ok(defined $job3 && defined $job4, 'with a cap of 2, two jobs run at once');
($rc, $out, $err) = run_sql($node, 'other', train_sql('credit', 'fifth', 'true'), timeout => 60);
like($err, qr/ERROR:  53400: too many training jobs are running \(2 of at most 2\)/,
	'a third is refused: ERROR 53400 (2 of at most 2)');
gate_open($gate);
ok(wait_for_job_status($node, $db, $job3, 'succeeded'), 'the third job succeeds');
ok(wait_for_job_status($node, $db, $job4, 'succeeded'), 'the fourth job succeeds');
is( sql_value(
		$node, $db,
		q(SELECT string_agg(name || ':' || version, ',' ORDER BY name) FROM cs_models)),
	'first:1,fourth:1,second:1,third:1',
	'the registry holds the four models trained in this database');

$gate->quit;
$node->stop;
done_testing();
