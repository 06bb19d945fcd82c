# bench/data.sh: the generated table the tree benchmarks share.  Source it; needs nothing else.

# Prints the SQL that creates table $1 with $2 rows: x1..x20 float8, x_j ~ Normal(10j, j), each
# NULL in 1% of the rows; u_j = (x_j - 10j) / j standardised (0 when NULL); y from a nonlinear
# logistic model of the u_j.  Seeded (setseed), to be run with a serial plan.
bench_table_sql()
{
	local name=$1 rows=$2
	cat <<-EOF
		SELECT setseed(0.25) \gset
		SELECT format(
		    'CREATE TABLE $name AS SELECT %s, random() < 1 / (1 + exp(-(%s))) AS y'
		    ' FROM (SELECT %s, * FROM (SELECT %s FROM generate_series(1, %s)) s0) s1',
		    string_agg(format('x%s', j), ', ' ORDER BY j),
		    '-0.5 + 0.8 * u1 - 0.6 * u2 + 0.5 * u3 * u4 + 0.7 * sin(2 * u5) + 0.4 * ln(1 + exp(u9))'
		    ' - 0.3 * u13 * u13 + 0.6 * (u17 > 0.5)::int - 0.5 * abs(u18) + 0.3 * u6 * (u14 > 0)::int'
		    ' + 0.2 * u7 - 0.2 * u10',
		    string_agg(format('coalesce((x%s - %s) / %s.0, 0) AS u%s', j, 10 * j, j, j), ', ' ORDER BY j),
		    string_agg(format('CASE WHEN random() < 0.01 THEN NULL ELSE %s + %s * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) END AS x%s',
		                      10 * j, j, j), ', ' ORDER BY j),
		    $rows)
		  FROM generate_series(1, 20) AS j \gexec
		VACUUM (FREEZE, ANALYZE) $name;
	EOF
}

# Prints the COPY that writes table $1 to the CSV file $2 as the Python halves read it: x1..x20
# (NULL as nan), then y as 0/1.
bench_table_copy()
{
	local name=$1 file=$2
	echo "COPY (SELECT $(printf 'coalesce(x%s::text, '"'"'nan'"'"'), ' {1..20}) y::int FROM $name) TO '$file' WITH (FORMAT csv);"
}
