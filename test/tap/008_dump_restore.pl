
# Dump and restore: the registry tables are extension configuration tables, so
# pg_dump carries their rows (runs, models with their blobs, stages, jobs) and
# their sequences; in the restored database every model scores every row
# exactly as before, and new runs and versions continue the numbering.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('dump');
my $db = 'postgres';
load_credit($node, $db);

# two versions of credit_risk (the first promoted to production), a model of
# another experiment on a few columns, and a failed run
$node->safe_psql(
	$db, q(
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'credit_risk',
                exclude => ARRAY['id']);
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'credit_risk',
                exclude => ARRAY['id'], params => '{"C": 0.1, "seed": 7}');
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'small',
                features => ARRAY['age', 'income', 'home', 'records'], experiment => 'small');
UPDATE cs_models SET stage = 'production' WHERE name = 'credit_risk' AND version = 1;
));
my ($rc, $out, $err) = run_sql(
	$node, $db,
	q(SELECT cs_train('credit', 'logistic_regression', 'home', 'rent', name => 'broken',
      exclude => ARRAY['id'])));
like($err, qr/ERROR:  22023: target column "home" is not binary/, 'a failed run is in the registry too');

# What is compared between the two databases.
my %queries = (
	'scores of credit_risk (production, version 1)' =>
	  q(SELECT string_agg(id || ':' || cs_predict('credit_risk', c.*), ',' ORDER BY id) FROM credit c),
	'scores of credit_risk@2' =>
	  q(SELECT string_agg(id || ':' || cs_predict('credit_risk@2', c.*), ',' ORDER BY id) FROM credit c),
	'scores of small' =>
	  q(SELECT string_agg(id || ':' || cs_predict('small', c.*), ',' ORDER BY id) FROM credit c),
	'scores by blob' => q(SELECT string_agg(id || ':' || cs_predict(m.blob, c.*), ',' ORDER BY id, m.version)
                            FROM credit c, cs_models m WHERE m.name = 'credit_risk'),
	'jsonb scores' => q(SELECT cs_predict('credit_risk', '{"age": 41, "income": 120, "home": "rent"}'::jsonb)
                           || ' ' || cs_predict('small', '{"age": 41}'::jsonb)),
	'row counts' => q(SELECT (SELECT count(*) FROM cs_experiments) || ' ' || (SELECT count(*) FROM cs_runs)
                         || ' ' || (SELECT count(*) FROM cs_models) || ' ' || (SELECT count(*) FROM cs_job_state)),
	'models' => q(SELECT string_agg(name || '@' || version || ':' || stage || ':' || run_id || ':' || md5(blob),
                                    ',' ORDER BY model_id) FROM cs_models),
	'runs' => q(SELECT string_agg(run_id || ':' || status || ':' || coalesce(n_rows, -1) || ':'
                                  || coalesce(metrics::text, '') || ':' || coalesce(error, ''),
                                  ',' ORDER BY run_id) FROM cs_runs),
	'jobs' => q(SELECT string_agg(job_id || ':' || run_id || ':' || status, ',' ORDER BY job_id) FROM cs_jobs),
	'experiments' => q(SELECT string_agg(experiment_id || ':' || name, ',' ORDER BY experiment_id)
                         FROM cs_experiments),
	'coefficients' => q(SELECT string_agg(term || '=' || coefficient, ',') FROM cs_coefficients('credit_risk@2')));

my %before = map { $_ => sql_value($node, $db, $queries{$_}) } keys %queries;
is($before{'row counts'}, '2 4 3 4', 'before the dump: 2 experiments, 4 runs, 3 models, 4 jobs');
like($before{'scores of credit_risk (production, version 1)'}, qr/^1:0\.\d+,2:0\.\d+,/,
	'before the dump: a score per row');
isnt($before{'scores of credit_risk (production, version 1)'}, $before{'scores of credit_risk@2'},
	'the two versions score differently');

# dump, create a new database, restore
my $dump = PostgreSQL::Test::Utils::tempdir() . '/credit.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr($db), '-f', $dump ], 'pg_dump of the database');
$node->safe_psql($db, 'CREATE DATABASE restored');
$node->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'), '-f', $dump ],
	'the dump restores into a new database with psql, without error');

for my $what (sort keys %queries)
{
	is(sql_value($node, 'restored', $queries{$what}), $before{$what}, "restored: same $what");
}

# the restored registry goes on: next run id, next version, production kept
my $max_run = sql_value($node, $db, 'SELECT max(run_id) FROM cs_runs');
($rc, $out, $err) = run_sql(
	$node, 'restored',
	q(SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'credit_risk',
      exclude => ARRAY['id'])));
is($rc, 0, 'restored: training works') or diag($err);
is($out, $max_run + 1, 'restored: the new run id follows the dumped ones (sequence restored)');
is( sql_value(
		$node, 'restored',
		q(SELECT string_agg(version || ':' || stage, ',' ORDER BY version) FROM cs_models WHERE name = 'credit_risk')),
	'1:production,2:none,3:none',
	'restored: the new model is version 3, version 1 stays in production');
is( sql_value($node, 'restored', q(SELECT job_id FROM cs_job_state WHERE run_id = ) . ($max_run + 1)),
	sql_value($node, $db, 'SELECT max(job_id) FROM cs_job_state') + 1,
	'restored: the new job id follows the dumped ones');

$node->stop;
done_testing();
