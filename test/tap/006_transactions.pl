
# cs_train inside transactions: the worker reads committed data and writes the
# registry in its own transactions, so the caller's transaction (READ
# COMMITTED or REPEATABLE READ, with or without earlier reads) neither blocks
# it nor is needed by it; a relation the worker could never read (created, or
# locked exclusively, by the caller's own transaction) is refused at once.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('transactions');
my $db = 'postgres';
load_credit($node, $db);

my $train = q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
    name => 'NAME', exclude => ARRAY['id']));

sub train_sql
{
	my ($name) = @_;
	(my $sql = $train) =~ s/NAME/$name/;
	return $sql;
}

# --- BEGIN; cs_train; COMMIT -----------------------------------------------------------------

my ($rc, $out, $err) = run_sql($node, $db, "BEGIN;\n" . train_sql('in_xact') . ";\nCOMMIT;", timeout => 120);
is($rc, 0, 'BEGIN; SELECT cs_train(...); COMMIT; succeeds') or diag($err);
like($out, qr/^\d+$/, 'it returns the run id');
is( sql_value(
		$node, $db,
		"SELECT r.status || '|' || r.n_rows || '|' || m.version
           FROM cs_runs r JOIN cs_models m USING (run_id) WHERE r.run_id = $out"),
	"succeeded|$CREDIT_ROWS|1",
	'the run succeeded and registered version 1');

# --- REPEATABLE READ, after a read of the table ----------------------------------------------

($rc, $out, $err) = run_sql(
	$node, $db,
	"BEGIN ISOLATION LEVEL REPEATABLE READ;\nSELECT count(*) FROM credit;\n"
	  . train_sql('in_rr') . ";\nCOMMIT;",
	timeout => 120);
is($rc, 0, 'BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT count(*) FROM credit; SELECT cs_train(...); COMMIT; succeeds')
  or diag($err);
my ($count, $run) = split /\n/, $out;
is($count, $CREDIT_ROWS, 'the read before cs_train saw every row');
is( sql_value(
		$node, $db,
		"SELECT r.status || '|' || r.n_rows || '|' || m.version
           FROM cs_runs r JOIN cs_models m USING (run_id) WHERE r.run_id = $run"),
	"succeeded|$CREDIT_ROWS|1",
	'REPEATABLE READ: the run succeeded and registered a model');

# --- uncommitted rows of the caller are not read; its rollback keeps the model ---------------

($rc, $out, $err) = run_sql(
	$node, $db,
	"BEGIN;\nINSERT INTO credit (status, age) SELECT 'bad', 30 FROM generate_series(1, 100);\n"
	  . train_sql('uncommitted') . ";\nROLLBACK;",
	timeout => 120);
is($rc, 0, 'cs_train after an INSERT in the same transaction succeeds') or diag($err);
is(sql_value($node, $db, "SELECT n_rows FROM cs_runs WHERE run_id = $out"),
	$CREDIT_ROWS, 'the worker read committed rows only, not the caller\'s uncommitted ones');
is(sql_value($node, $db, q(SELECT count(*) FROM cs_models WHERE name = 'uncommitted')),
	'1', 'the caller\'s ROLLBACK does not undo the registration (the worker committed it)');

# --- a relation created in the same, uncommitted transaction: a clear error, not a hang ------

($rc, $out, $err) = run_sql(
	$node, $db,
	"BEGIN;\nCREATE TABLE fresh AS SELECT * FROM credit;\n"
	  . "SELECT cs_train('fresh', 'logistic_regression', 'status', 'bad', exclude => ARRAY['id']);\nCOMMIT;",
	timeout => 60);
isnt($rc, 0, 'a table created in the same transaction: cs_train fails (within 60 s)');
like($err, qr/ERROR:  55000: relation "fresh" was created in the current transaction\n/,
	'a table created in the same transaction: ERROR 55000 naming it');
like($err, qr/HINT:  Commit first: training reads committed data in a background worker\./,
	'a table created in the same transaction: the hint says to commit first');
is(sql_value($node, $db, q(SELECT count(*) FROM cs_job_state WHERE relation LIKE '%fresh%')),
	'0', 'a table created in the same transaction: no job was started');

# the same for a view created in the transaction
($rc, $out, $err) = run_sql(
	$node, $db,
	"BEGIN;\nCREATE VIEW fresh_view AS SELECT * FROM credit;\n"
	  . "SELECT cs_train('fresh_view', 'logistic_regression', 'status', 'bad', exclude => ARRAY['id']);\nCOMMIT;",
	timeout => 60);
like($err, qr/ERROR:  55000: relation "fresh_view" was created in the current transaction/,
	'a view created in the same transaction: ERROR 55000');

# --- a relation the caller's transaction locked exclusively ----------------------------------

($rc, $out, $err) = run_sql(
	$node, $db,
	"BEGIN;\nLOCK TABLE credit IN ACCESS EXCLUSIVE MODE;\n" . train_sql('locked') . ";\nCOMMIT;",
	timeout => 60);
isnt($rc, 0, 'a table locked ACCESS EXCLUSIVE by the caller: cs_train fails (within 60 s)');
like($err, qr/ERROR:  55P03: relation "credit" is locked by the current transaction\n/,
	'a table locked by the caller: ERROR 55P03');
($rc, $out, $err) = run_sql(
	$node, $db,
	"BEGIN;\nALTER TABLE credit ADD COLUMN extra integer;\n" . train_sql('altered') . ";\nROLLBACK;",
	timeout => 60);
like($err, qr/ERROR:  55P03: relation "credit" is locked by the current transaction/,
	'a table altered in the same transaction: ERROR 55P03');
is(sql_value($node, $db, q(SELECT count(*) FROM cs_job_state WHERE model_name IN ('locked', 'altered'))),
	'0', 'a locked table: no job was started');

# --- a lock requested by another session while the caller holds the table ------------------

# The caller read credit earlier in its transaction (it holds ACCESS SHARE); another
# session then queues for ACCESS EXCLUSIVE (ALTER TABLE).  The training worker's own
# ACCESS SHARE request queues behind the ALTER, which waits for the caller, which waits
# for the worker.  The lock manager cannot see that cycle (the caller waits on a message
# queue), so the caller detects it and raises a deadlock error; its ROLLBACK lets the
# ALTER through.  statement_timeout only guards against a hang.
{
	my $caller = bg_session($node, $db);
	my $alter = bg_session($node, $db);
	$caller->query_safe('BEGIN');
	is($caller->query_safe('SELECT count(*) FROM credit'), $CREDIT_ROWS, 'lock queue: the caller read the table');
	bg_start($alter, 'ALTER TABLE credit ADD COLUMN extra2 integer;');
	ok( $node->poll_query_until(
			$db,
			q(SELECT count(*) = 1 FROM pg_stat_activity
               WHERE wait_event_type = 'Lock' AND query LIKE 'ALTER TABLE credit%')),
		'lock queue: the ALTER TABLE waits for the caller');
	$caller->query_safe("SET LOCAL statement_timeout = '60s'");
	my $o = $caller->query(train_sql('lock_queue'));
	my $e = $caller->{stderr};
	$caller->{stderr} = '';
	like($e, qr/ERROR:  40P01: deadlock detected: the training worker waits for a lock on relation "credit" that this transaction holds/,
		'lock queue: the caller reports the deadlock instead of hanging');
	unlike($e, qr/statement timeout/, 'lock queue: not ended by the statement timeout');
	ok( $node->poll_query_until(
			$db,
			q(SELECT status FROM cs_jobs WHERE model_name = 'lock_queue'), 'cancelled'),
		'lock queue: the job was cancelled');
	$caller->query('ROLLBACK');
	my ($ao, $ae) = bg_finish($alter);
	$alter->query_safe('ALTER TABLE credit DROP COLUMN IF EXISTS extra2');
	$alter->quit;
	$caller->quit;
}

# --- nothing is left behind ------------------------------------------------------------------

ok(wait_until_no_workers($node, $db), 'no training worker is left');
($rc, $out, $err) = run_sql($node, $db, train_sql('at_end'), timeout => 120);
is($rc, 0, 'training outside a transaction block still works') or diag($err);

$node->stop;
done_testing();
