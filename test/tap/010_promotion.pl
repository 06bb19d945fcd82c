
# A model name resolves to its production version, else its newest, at each
# query: a version promoted (or demoted) and committed in one session is used
# by the next query of every other session, however warm its cache.

use strict;
use warnings;

use FindBin;
use lib $FindBin::RealBin;

use CsTest;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = cs_node('promotion');
my $db = 'postgres';
load_credit($node, $db);

sub train
{
	my ($params) = @_;
	return sql_value(
		$node, $db,
		qq(SET client_min_messages = warning;
           SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'risk',
                           exclude => ARRAY['id'], params => '$params')));
}

train('{}');
train('{"C": 0.01}');
is(sql_value($node, $db, q(SELECT string_agg(version || ':' || stage, ',' ORDER BY version) FROM cs_models)),
	'1:none,2:none', 'two versions of risk, neither in production');

# Which version's scores session A gets for 'risk': "v1", "v2", "v3" or a diagnostic.
my $which = q(SELECT CASE
    WHEN d1 = 0 AND d2 > 0 AND d3 > 0 THEN 'v1'
    WHEN d2 = 0 AND d1 > 0 AND d3 > 0 THEN 'v2'
    WHEN d3 = 0 AND d1 > 0 AND d2 > 0 THEN 'v3'
    ELSE 'unclear ' || d1 || ' ' || d2 || ' ' || d3 END
  FROM (SELECT count(*) FILTER (WHERE p IS DISTINCT FROM p1) AS d1,
               count(*) FILTER (WHERE p IS DISTINCT FROM p2) AS d2,
               count(*) FILTER (WHERE p IS DISTINCT FROM p3) AS d3
          FROM (SELECT cs_predict('risk', c.*) AS p, cs_predict('risk@1', c.*) AS p1,
                       cs_predict('risk@2', c.*) AS p2,
                       cs_predict((SELECT blob FROM cs_models WHERE name = 'risk' AND version = 3),
                                  c.*) AS p3
                  FROM credit c) s) d);

is( sql_value(
		$node, $db,
		q(SELECT count(*) > 0 FROM credit c WHERE cs_predict('risk@1', c.*) <> cs_predict('risk@2', c.*))),
	't', 'the two versions score differently');

# session A: long-lived, its per-backend cache warm with the newest version
my $a = bg_session($node, $db);
$a->query_safe('SET client_min_messages = warning');
is($a->query_safe(q(SELECT sum(cs_predict('risk', c.*)) = sum(cs_predict('risk@2', c.*)) FROM credit c)),
	't', 'session A: risk is the newest version (2) when none is in production');
is($a->query_safe($which), 'v2', 'session A scores with version 2');
my $a_scores_v2 = $a->query_safe(
	q(SELECT string_agg(cs_predict('risk', c.*)::text, ',' ORDER BY id) FROM credit c));

# session B promotes version 1 (as superuser)
sql_value($node, $db, q(UPDATE cs_models SET stage = 'production' WHERE name = 'risk' AND version = 1));
is($a->query_safe($which), 'v1', 'session A\'s next query scores with version 1, promoted by session B');
is( $a->query_safe(q(SELECT string_agg(cs_predict('risk', c.*)::text, ',' ORDER BY id) FROM credit c)),
	sql_value($node, $db, q(SELECT string_agg(cs_predict('risk@1', c.*)::text, ',' ORDER BY id) FROM credit c)),
	'session A\'s scores equal cs_predict(\'risk@1\') row for row');

# a newer version does not displace the production one
train('{"C": 0.001}');
is($a->query_safe($which), 'v1', 'a third version is registered: production version 1 is still used');
is(sql_value($node, $db, q(SELECT string_agg(version || ':' || stage, ',' ORDER BY version) FROM cs_models)),
	'1:production,2:none,3:none', 'registry: version 1 in production, 2 and 3 not');

# demotion: the name falls back to the newest version
sql_value($node, $db, q(UPDATE cs_models SET stage = 'archived' WHERE name = 'risk' AND version = 1));
is($a->query_safe($which), 'v3', 'version 1 archived: session A\'s next query uses the newest, version 3');

# promotion inside a transaction in B: A does not see it before the commit
my $b = bg_session($node, $db);
$b->query_safe('BEGIN');
$b->query_safe(q(UPDATE cs_models SET stage = 'production' WHERE name = 'risk' AND version = 2));
is($a->query_safe($which), 'v3', 'an uncommitted promotion is not used');
$b->query_safe('COMMIT');
is($a->query_safe($which), 'v2', 'once committed, session A\'s next query uses version 2');

# within one statement of A, a single version is used even with several call sites
is( $a->query_safe(
		q(SELECT bool_and(cs_predict('risk', c.*) = cs_predict('risk@2', c.*)) FROM credit c)),
	't', 'every row of the statement is scored with the production version');

# the scores A got from version 2 at the start are the ones it gets now
is( $a->query_safe(q(SELECT string_agg(cs_predict('risk', c.*)::text, ',' ORDER BY id) FROM credit c)),
	$a_scores_v2, 'session A\'s scores of version 2 are the same as before the promotions');

# the same through PL/pgSQL: a function called by A's next statement, in a
# transaction that began before the promotion (READ COMMITTED: each statement
# sees what was committed before it began)
$node->safe_psql(
	$db, q(
CREATE FUNCTION score_one(j jsonb) RETURNS float8 LANGUAGE plpgsql STABLE
    AS $$ BEGIN RETURN cs_predict('risk', j); END $$;
));
my $row = q('{"age": 30, "income": 50, "home": "rent"}'::jsonb);
$a->query_safe('BEGIN');
is($a->query_safe("SELECT score_one($row) = cs_predict('risk\@2', $row)"),
	't', 'PL/pgSQL: the function scores with version 2 (production)');
$b->query_safe(
	q(BEGIN;
      UPDATE cs_models SET stage = 'none' WHERE name = 'risk' AND version = 2;
      UPDATE cs_models SET stage = 'production' WHERE name = 'risk' AND version = 1;
      COMMIT;));
is($a->query_safe("SELECT cs_predict('risk', $row) = cs_predict('risk\@1', $row)"),
	't', 'PL/pgSQL: in the same transaction, the next statement\'s cs_predict uses version 1');
{
	is($a->query_safe("SELECT score_one($row) = cs_predict('risk\@1', $row)"),
		't', 'PL/pgSQL: the function called by the next statement uses version 1 too');
}
$a->query_safe('COMMIT');
is($a->query_safe("SELECT score_one($row) = cs_predict('risk\@1', $row)"),
	't', 'PL/pgSQL: in the next transaction, the function uses version 1');

$b->quit;
$a->quit;
$node->stop;
done_testing();
