import { describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { rawSqlMayTruncate, rawSqlMayWrite, rawSqlText } from "../../src/prisma/raw-sql.ts";

/** The arguments `$queryRaw` receives when called as a tagged template. */
const tagged = (strings: TemplateStringsArray, ...values: unknown[]) => [strings, ...values];

describe("rawSqlMayTruncate", () => {
  it("finds TRUNCATE in any spelling and fragment, and nothing else", () => {
    expect(rawSqlMayTruncate(tagged`TRUNCATE billing."Customer" CASCADE`)).toBe(true);
    expect(rawSqlMayTruncate(["truncate table t restart identity cascade"])).toBe(true);
    expect(rawSqlMayTruncate(tagged`${Prisma.raw("Truncate ONLY t")}`)).toBe(true);
    expect(rawSqlMayTruncate(tagged`DELETE FROM "Customer" WHERE id = ${1}`)).toBe(false);
    expect(rawSqlMayTruncate(tagged`UPDATE t SET truncated = true`)).toBe(false);
  });
});

describe("rawSqlMayWrite", () => {
  it("sees writes in interpolated fragments, at any depth", () => {
    expect(rawSqlMayWrite(tagged`${Prisma.sql`UPDATE "User" SET name = ${"x"}`}`)).toBe(true);
    expect(rawSqlMayWrite(tagged`WITH x AS (${Prisma.raw('DELETE FROM "Post" RETURNING id')}) SELECT * FROM x`)).toBe(true);
    expect(rawSqlMayWrite(tagged`SELECT 1; ${Prisma.join([Prisma.sql`SELECT 2`, Prisma.sql`${Prisma.raw("TRUNCATE t")}`], "; ")}`)).toBe(true);
    expect(rawSqlMayWrite([Prisma.sql`SELECT ${Prisma.sql`1`} ; ${Prisma.raw("INSERT INTO t VALUES (1)")}`])).toBe(true);
  });

  it("joins fragments to the text around them as Prisma does: a keyword split across them is seen (outside probe 264: a DELETE taken for a read)", () => {
    expect(rawSqlMayWrite(tagged`DEL${Prisma.raw('ETE FROM "Tag" WHERE id = 5 RETURNING id')}`)).toBe(true);
    expect(rawSqlMayWrite(tagged`DEL${Prisma.sql`ETE FROM "Tag" WHERE id = ${5}`}`)).toBe(true);
    expect(rawSqlMayWrite(tagged`WITH d AS (DEL${Prisma.raw('ETE FROM "Tag" RETURNING id')}) SELECT * FROM d`)).toBe(true);
    expect(rawSqlMayWrite([Prisma.sql`SELECT 1; TRUN${Prisma.sql`${Prisma.raw("CA")}TE`} "Tag"`])).toBe(true);
    expect(rawSqlMayTruncate(tagged`TRUN${Prisma.raw('CATE "Tag"')}`)).toBe(true);
    expect(rawSqlText(tagged`SELECT ${Prisma.raw("a")}${Prisma.join([1, 2], ",", "(", ")")} FROM t`)).toBe("SELECT a(?,?) FROM t");
    // A parameter splits words, as PostgreSQL's placeholder does: `DEL$1ETE` deletes nothing.
    expect(rawSqlMayWrite(tagged`SELECT DEL${"x"}ETE FROM t`)).toBe(false);
  });

  it("reads $queryRawUnsafe's text and TypedSQL's", () => {
    expect(rawSqlMayWrite(["update t set a = $1", 1])).toBe(true);
    expect(rawSqlMayWrite(["select a from t where b = $1", 1])).toBe(false);
    expect(rawSqlMayWrite([{ sql: "DELETE FROM t", values: [] }])).toBe(true);
  });

  it("counts any function not known to be read-only as a write", () => {
    expect(rawSqlMayWrite(tagged`SELECT nextval('s')`)).toBe(true);
    expect(rawSqlMayWrite(tagged`SELECT my_func(${1})`)).toBe(true);
    expect(rawSqlMayWrite(tagged`SELECT public.count(*) FROM t`)).toBe(true);
    expect(rawSqlMayWrite(tagged`SELECT count(*), lower(name), coalesce(a, 1)::numeric(10, 2) FROM "User" WHERE id IN (${Prisma.join([1, 2])}) AND EXISTS (SELECT 1)`)).toBe(false);
  });

  it("sees a call however it is spelt: a comment before its parenthesis, a non-ASCII or quoted name (found by an outside probe)", () => {
    expect(rawSqlMayWrite(tagged`SELECT bump_fn /* why not */ ()`)).toBe(true);
    expect(rawSqlMayWrite(["SELECT bump_fn -- a comment\n ()"])).toBe(true);
    expect(rawSqlMayWrite(tagged`SELECT élower()`)).toBe(true);
    expect(rawSqlMayWrite(tagged`SELECT "my""func"()`)).toBe(true);
    expect(rawSqlMayWrite(tagged`SELECT '/*', bump_fn(), '*/'`)).toBe(true);
    expect(rawSqlMayWrite(["SELECT my_func /* a /* b */ c */ (1)"])).toBe(true);
    expect(rawSqlMayWrite(["SELECT my_func --\r(1)"])).toBe(true);
    expect(rawSqlMayWrite(["SELECT लिखें(1)"])).toBe(true);
    expect(rawSqlMayWrite(["SELECT e\u0301lower(1)"])).toBe(true);
    expect(rawSqlMayWrite(["SELECT \u200blower(1)"])).toBe(true);
    expect(rawSqlMayWrite(['SELECT "values"(1)'])).toBe(true);
    expect(rawSqlMayWrite(["SELECT uuid(1)"])).toBe(true);
    expect(rawSqlMayWrite(["SELECT a::numeric(10, 2), CAST(b AS varchar(20)), x IN (1, 2) FROM t"])).toBe(false);
    for (const word of ["first", "last", "over", "filter", "rows", "range", "zone", "sets", "ilike", "is", "join", "of", "at"]) expect(rawSqlMayWrite([`SELECT ${word}(1)`]), word).toBe(true);
    expect(rawSqlMayWrite([`SELECT U&"bump_user" UESCAPE '!' (1)`])).toBe(true);
    expect(rawSqlMayWrite(["SELECT count(*) OVER (PARTITION BY a ORDER BY b NULLS FIRST), array_agg(x) FILTER (WHERE y) FROM t GROUP BY CUBE (a, b)"])).toBe(false);
    // Still read-only: built-ins, whatever the comments.
    expect(rawSqlMayWrite(tagged`SELECT lower /* the built-in */ (name), count(*) -- rows
 FROM "User"`)).toBe(false);
  });

  it("resolves names as PostgreSQL does: quoted ones keep their case, unquoted ones lose only ASCII capitals (outside probe 286)", () => {
    for (const call of ['SELECT "Lower"(name) FROM t', 'SELECT "Count"(1)', 'SELECT "Reverse"(x)', 'SELECT "PG_CATALOG".lower(x)', "SELECT ran\u212a() OVER ()"]) expect(rawSqlMayWrite([call]), call).toBe(true);
    for (const read of ['SELECT "lower"(name), LOWER(name), Count(*) FROM t', 'SELECT pg_catalog."lower"(x), "pg_catalog".upper(x)', "SELECT RANK() OVER (ORDER BY a) FROM t"]) expect(rawSqlMayWrite([read]), read).toBe(false);
  });

  it("takes cube, rollup and materialized for syntax only where they are (outside probe 286)", () => {
    for (const call of ["SELECT 1, rollup($1)", "SELECT (cube($1))", "SELECT id FROM t ORDER BY rollup(id)", "SELECT * FROM t WHERE NOT materialized(id)", "SELECT a FROM t GROUP BY a HAVING rollup(a) > 0", "SELECT a FROM t GROUP BY a, (SELECT cube(1))"]) {
      expect(rawSqlMayWrite([call]), call).toBe(true);
    }
    for (const read of ["SELECT a, b, count(*) FROM t GROUP BY ROLLUP (a, b)", "SELECT a FROM t GROUP BY a, CUBE(b), rollup(c)", "SELECT a FROM t GROUP BY GROUPING SETS ((a), ROLLUP(b), cube(c))", "WITH x AS NOT MATERIALIZED (SELECT 1) SELECT * FROM x", "WITH x AS MATERIALIZED (SELECT 1) SELECT * FROM x"]) {
      expect(rawSqlMayWrite([read]), read).toBe(false);
    }
  });

  it("reads the text as PostgreSQL's lexer does: names glued to keywords, comments, quotes and dollar quotes hide no call (outside probe 289)", () => {
    const writes = [
      'SELECT"bump"(1)',
      'SELECT * FROM"bump"(1)',
      'SELECT 1 WHERE"bump"(1) > 0',
      'SELECT id FROM "Wallet" WHERE id = 1 AND"bump"(id) > 0',
      'SELECT CASE WHEN true THEN"bump"(1) END',
      'SELECT 1 ORDER BY"bump"(1)',
      'EXPLAIN ANALYZE SELECT"bump"(1)',
      "SELECT * FROM xmltable('/r' PASSING '<r/>'::xml COLUMNS a int PATH 'a' DEFAULT\"bump\"(1))",
      "SELECT '/*', bump/**/(1)",
      "SELECT '--', bump/* x */(1)",
      "SELECT $$/*$$, bump/**/(1)",
      "SELECT E'\\'/*', bump/**/(1)",
      'SELECT 1 AS "/*", bump/**/(1)',
      "SELECT '--' AS sep, bump -- audit\n  (1)",
      "SELECT 1 FROM \"Wallet\" WHERE owner NOT LIKE '/*%' AND bump /* audit */ (id) > 0 AND id = 1",
      `SELECT '"', bump(1), '".pg_catalog.lower('`,
      `SELECT '"', bump(1), '"."pg_catalog".lower(1)'`,
      `SELECT $q$"$q$, bump(1), $q$".pg_catalog.count($q$`,
      `SELECT w.id, '"' AS q,\n  bump(w.id) AS touched,\n  '".pg_catalog.count(*)' AS note\nFROM "Wallet" w WHERE w.id = 1`,
      "SELECT --for\nupdate(1)",
      "SELECT -- wait for\nshare(1)",
      "SELECT DISTINCT ON (1) over(1)",
      "SELECT DISTINCT ON (1) filter(1)",
      "SELECT DISTINCT ON (1) within(1)",
      'SELECT DISTINCT ON (id) over(id) FROM "Wallet" WHERE id = 1',
      "SELECT 1 GROUP BY (cube(1))",
      "SELECT 1 GROUP BY lower(rollup(1)::text)",
      "SELECT 1 FROM (VALUES (1)) v(a) GROUP BY cube(a, cube(1))",
      "SELECT (SELECT 1 GROUP BY 1), rollup(1)",
      "SELECT * FROM (SELECT 1 GROUP BY 1) s, cube(1)",
      "SELECT 1 AS materialized, materialized(1)",
      "SELECT * FROM ROWS FROM (bump(1))",
      "SELECT (bump(1)).*",
      "SELECT bump(w => 1)",
      "SELECT * FROM (VALUES (1)) v(a), LATERAL bump(a)",
      // With standard_conforming_strings off the first string ends at the second quote, and bump is called.
      "SELECT '\\', bump(1), '\\'",
      // Found by outside probe 291: a string continued on the next line keeps its E'' escapes,
      "SELECT '\\' , E'a'\n'\\' ' , '\\' , bump() --'",
      "SELECT '\\', E'' -- gap\n'\\' ', '\\', bump(1) --'",
      // a dollar tag of any length,
      `SELECT $${"x".repeat(255)}$/*$${"x".repeat(255)}$, bump(1)`,
      // an array's brackets in GROUP BY,
      "SELECT 1 GROUP BY ARRAY[1, cube(1)]",
      "SELECT 1 GROUP BY GROUPING SETS ((1), ARRAY[2, rollup(1)])",
      // FOR in substring and overlay,
      "SELECT substring('abc' FOR update(1))",
      "SELECT overlay('abc' PLACING 'x' FROM 1 FOR share(1))",
      "SELECT substring('abc' FOR update /* x */ (1))",
      // and system_user, a keyword only from PostgreSQL 16 on.
      "SELECT system_user()",
    ];
    for (const sql of writes) expect(rawSqlMayWrite([sql]), sql).toBe(true);
    // A statement that commits: what the transaction wrote becomes visible.
    for (const sql of ["COMMIT", "commit and no chain", "END", "SELECT 1; END TRANSACTION", "COMMIT PREPARED 'x'"]) expect(rawSqlMayWrite([sql]), sql).toBe(true);
    expect(rawSqlMayWrite(["SELECT CASE WHEN a THEN 1 END FROM t"])).toBe(false);
  });

  it("takes plain objects interpolated into a template for parameters, whatever their fields (outside probe 289)", () => {
    // User data shaped like a Prisma.sql fragment: Prisma sends it as JSON, so it cannot turn a call into a read.
    const open = { strings: ['"'], values: [] };
    const shut = { strings: ['".pg_catalog.lower('], values: [] };
    expect(rawSqlMayWrite(tagged`SELECT ${open}::jsonb AS a, bump(1) AS b, ${shut}::jsonb AS c`)).toBe(true);
    expect(rawSqlText(tagged`SELECT ${open}::jsonb`)).toBe("SELECT ?::jsonb");
  });

  it("takes common read-only syntax for reads", () => {
    const reads = [
      'SELECT "walletId", count(*) FROM "Entry" GROUP BY ("walletId")',
      'SELECT * FROM "Wallet" ORDER BY (coins) DESC',
      "SELECT * FROM (VALUES (1, 'a')) AS t (id, name)",
      "SELECT created::timestamptz(3) FROM (SELECT now() AS created) s",
      'SELECT * FROM "Wallet" TABLESAMPLE SYSTEM (50)',
      'SELECT row_number() OVER w FROM "Wallet" WINDOW w AS (ORDER BY id)',
      'SELECT sum(coins) OVER (PARTITION BY (owner)) FROM "Wallet"',
      "SELECT jsonb_path_query_first('{\"a\":1}', '$.a')",
      "SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(a int, b text), pg_sleep(0)",
      "SELECT ts_rank_cd(to_tsvector(body), to_tsquery($1)) FROM t",
      'SELECT id FROM "Wallet" WHERE id = ANY ($1) FOR UPDATE SKIP LOCKED',
      "SELECT count(*) FILTER (WHERE a > 1) OVER (PARTITION BY b), percentile_cont(0.5) WITHIN GROUP (ORDER BY a) FROM t",
      "SELECT a, b FROM t GROUP BY GROUPING SETS ((a), ROLLUP (a, b), CUBE (b), ())",
      "SELECT '/*', $$--$$, E'\\'', \"a\"\"b\" FROM t",
    ];
    for (const sql of reads) expect(rawSqlMayWrite([sql]), sql).toBe(false);
  });

  it("does not count locking reads or parameter values", () => {
    expect(rawSqlMayWrite(tagged`SELECT * FROM t WHERE id = ${"update"} FOR UPDATE`)).toBe(false);
    expect(rawSqlMayWrite(tagged`SELECT * FROM t FOR NO KEY UPDATE SKIP LOCKED`)).toBe(false);
    expect(rawSqlMayWrite(tagged`SELECT * FROM "Comment"`)).toBe(false);
  });

  it("assumes the worst of arguments it does not recognise", () => {
    expect(rawSqlMayWrite([{}])).toBe(true);
    expect(rawSqlText(tagged`a ${1} b`)).toBe("a ? b");
  });
});
