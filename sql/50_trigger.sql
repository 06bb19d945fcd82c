-- cs_score_trigger fills a score column on INSERT and UPDATE, with the model
-- resolved once per statement.
CREATE TABLE applications (
    id integer PRIMARY KEY, seniority integer, home text, time integer, age integer,
    marital text, records text, job text, expenses integer, income integer,
    assets integer, debt integer, amount integer, price integer,
    p_bad float8, p_bad_numeric numeric);
CREATE TRIGGER score BEFORE INSERT OR UPDATE ON applications
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk@1', 'p_bad');
CREATE TRIGGER score_numeric BEFORE INSERT OR UPDATE ON applications
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk@1', 'p_bad_numeric');

INSERT INTO applications (id, seniority, home, time, age, marital, records, job, expenses,
                          income, assets, debt, amount, price)
SELECT id, seniority, home, time, age, marital, records, job, expenses, income, assets, debt,
       amount, price FROM credit;
SELECT count(*) AS rows,
       count(*) FILTER (WHERE a.p_bad = cs_predict('credit_risk@1', c.*)) AS equal_to_cs_predict,
       count(*) FILTER (WHERE abs(a.p_bad_numeric - a.p_bad::numeric) < 1e-12) AS numeric_equal
  FROM applications a JOIN credit c USING (id);

-- an update rescored the row: more income, lower risk
SELECT round(p_bad::numeric, 6) AS before FROM applications WHERE id = 3;
UPDATE applications SET income = income * 3 WHERE id = 3;
SELECT round(p_bad::numeric, 6) AS after FROM applications WHERE id = 3;

-- a single-row insert, as an application arrives
INSERT INTO applications (id, seniority, home, time, age, marital, records, job, expenses, income,
                          assets, debt, amount, price)
VALUES (100000, 9, 'rent', 60, 30, 'married', 'no', 'freelance', 73, 129, 0, 0, 800, 846);
SELECT round(p_bad::numeric, 6) AS p_bad FROM applications WHERE id = 100000;

-- misuse is a clear error
CREATE TABLE wrong (id integer, seniority integer, score text);
CREATE TRIGGER score BEFORE INSERT ON wrong
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk@1', 'score');
INSERT INTO wrong VALUES (1, 2, NULL);
DROP TRIGGER score ON wrong;
CREATE TRIGGER score BEFORE INSERT ON wrong
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk@1', 'no_such_column');
INSERT INTO wrong VALUES (1, 2, NULL);
DROP TRIGGER score ON wrong;
CREATE TRIGGER score AFTER INSERT ON wrong
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk@1', 'score');
INSERT INTO wrong VALUES (1, 2, NULL);
DROP TRIGGER score ON wrong;
CREATE TRIGGER score BEFORE INSERT ON wrong
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('credit_risk@1');
INSERT INTO wrong VALUES (1, 2, NULL);
DROP TABLE wrong;
