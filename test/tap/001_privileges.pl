
# Privileges and row-level security: training reads the relation as the
# calling role; the registry is written by the worker as the extension's
# owner, so a role without write access to it can train, read it and score.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('privileges');
my $db = 'postgres';
load_credit($node, $db);
$node->safe_psql($db, q(
CREATE ROLE alice LOGIN;
CREATE ROLE bob LOGIN;
));

my $train_alice = q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
    name => 'alice_risk', exclude => ARRAY['id']));

# --- no SELECT privilege on the table --------------------------------------------------------

my ($rc, $out, $err) = run_sql($node, $db, $train_alice, role => 'alice');
isnt($rc, 0, 'cs_train without SELECT on the table fails');
like($err, qr/ERROR:  42501: permission denied for table credit/,
	'without SELECT: SQLSTATE 42501, "permission denied for table credit"');
is(sql_value($node, $db, 'SELECT count(*) FROM cs_job_state'),
	'0', 'the privilege check happens before any job is started');

# --- column privileges -----------------------------------------------------------------------

$node->safe_psql($db, 'GRANT SELECT (status, age, income, home) ON credit TO bob');
($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'bob_risk',
       exclude => ARRAY['id'])),
	role => 'bob');
like($err, qr/ERROR:  42501: permission denied for table credit/,
	'column privileges: a feature column without SELECT is refused (42501)');
($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'bob_risk',
       features => ARRAY['age', 'income', 'home'])),
	role => 'bob');
is($rc, 0, 'column privileges: training on the granted columns succeeds')
  or diag($err);
is( sql_value(
		$node, $db,
		q(SELECT status || ' ' || n_rows || ' ' || features::text || ' ' || r.created_by
            FROM cs_runs r JOIN cs_models m USING (run_id) WHERE m.name = 'bob_risk')),
	"succeeded $CREDIT_ROWS {age,income,home} bob",
	'column privileges: the run read every row of the granted columns, created by bob');

# --- row-level security ----------------------------------------------------------------------

$node->safe_psql(
	$db, q(
GRANT SELECT ON credit TO alice;
ALTER TABLE credit ENABLE ROW LEVEL SECURITY;
CREATE POLICY alice_even ON credit FOR SELECT TO alice USING (id % 2 = 0);
));
my $visible = sql_value($node, $db, 'SELECT count(*) FROM credit', role => 'alice');
is($visible, sql_value($node, $db, 'SELECT count(*) FROM credit WHERE id % 2 = 0'),
	'alice sees the even ids only');
cmp_ok($visible, '<', $CREDIT_ROWS, 'the policy hides rows from alice');

($rc, $out, $err) = run_sql($node, $db, $train_alice, role => 'alice');
is($rc, 0, 'alice (not a superuser, no write access to the registry) can train')
  or diag($err);
my $run = $out;
like($run, qr/^\d+$/, 'cs_train returns the run id');
is( sql_value(
		$node, $db,
		"SELECT status || ' ' || n_rows || ' ' || n_skipped || ' ' || (n_train + n_valid + n_test)
            || ' ' || created_by FROM cs_runs WHERE run_id = $run"),
	"succeeded $visible 0 $visible alice",
	'RLS: the run read exactly the rows visible to alice (cs_runs.n_rows), created by alice');
like($err, qr/NOTICE:  00000: read $visible rows \(0 skipped: NULL target\)/,
	'RLS: the notice alice receives reports the visible row count');
is( sql_value(
		$node, $db,
		"SELECT status || ' ' || role FROM cs_jobs WHERE run_id = $run",
		role => 'alice'),
	'succeeded alice',
	'alice reads her job in cs_jobs');
is( sql_value(
		$node, $db,
		"SELECT name || ' ' || version || ' ' || created_by FROM cs_models WHERE run_id = $run",
		role => 'alice'),
	'alice_risk 1 alice',
	'alice reads her registered model in cs_models');

# the same call by the superuser (RLS does not apply to it) reads every row
my $run_all = sql_value(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
      name => 'owner_risk', exclude => ARRAY['id'])));
is(sql_value($node, $db, "SELECT n_rows FROM cs_runs WHERE run_id = $run_all"),
	$CREDIT_ROWS, 'the superuser\'s run of the same call read all rows');

# --- scoring as alice ------------------------------------------------------------------------

is( sql_value(
		$node, $db,
		q(SELECT count(*) || ' ' || count(p) || ' ' || bool_and(p > 0 AND p < 1)
            FROM (SELECT cs_predict('alice_risk', c.*) AS p FROM credit c) s),
		role => 'alice'),
	"$visible $visible true",
	'alice scores her rows with cs_predict: one probability in (0, 1) per row');

my $scores_sql = q(SELECT string_agg(id || ':' || cs_predict('alice_risk', c.*), ',' ORDER BY id)
    FROM credit c WHERE id % 2 = 0);
my $alice_scores = sql_value($node, $db, $scores_sql, role => 'alice');
is($alice_scores, sql_value($node, $db, $scores_sql),
	'alice\'s scores equal the superuser\'s with the same model');
is( sql_value(
		$node, $db,
		q(SELECT count(*) FILTER (WHERE cs_predict('alice_risk', c.*)
                                  <> cs_predict('owner_risk', c.*)) > 0
            FROM credit c), role => 'alice'),
	't',
	'the model trained on alice\'s rows differs from the one trained on all rows');
is( sql_value(
		$node, $db,
		q(SELECT cs_predict('alice_risk', '{"age": 30, "income": 100, "home": "rent"}'::jsonb)
               = cs_predict((SELECT blob FROM cs_models WHERE name = 'alice_risk'),
                            '{"age": 30, "income": 100, "home": "rent"}'::jsonb)),
		role => 'alice'),
	't',
	'alice scores jsonb by name and by blob alike');

# --- the registry stays read-only for alice --------------------------------------------------

($rc, $out, $err) = run_sql($node, $db,
	q(UPDATE cs_models SET stage = 'production' WHERE name = 'alice_risk'),
	role => 'alice');
like($err, qr/ERROR:  42501: permission denied for table cs_models/,
	'alice cannot write cs_models directly');
($rc, $out, $err) = run_sql($node, $db, q(DELETE FROM cs_runs), role => 'alice');
like($err, qr/ERROR:  42501: permission denied for table cs_runs/,
	'alice cannot write cs_runs directly');

$node->stop;
done_testing();
