CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, val REAL, grp INTEGER);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<2000)
INSERT INTO t(name,val,grp) SELECT printf('name-%d-%s', x, hex(x*7919)), x*0.5, x%100 FROM c;
COMMIT;
CREATE INDEX t_grp ON t(grp, val);
CREATE INDEX t_name ON t(name);
SELECT grp, count(*), sum(val) FROM t GROUP BY grp ORDER BY grp LIMIT 5;
SELECT count(*) FROM t WHERE name LIKE 'name-1%';
SELECT * FROM t WHERE grp=42 ORDER BY val DESC LIMIT 3;
