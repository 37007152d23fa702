/**
 * Whether a raw query (`$queryRaw`, `$queryRawUnsafe`, `$queryRawTyped`) may change rows, from
 * its full SQL text: template strings, every interpolated `Prisma.sql` / `Prisma.raw` /
 * `Prisma.join` fragment at any depth, TypedSQL's text. Conservative by construction: a
 * statement may write when it contains
 *  - a keyword that writes or changes what later reads see (INSERT, UPDATE, DELETE, MERGE, COPY,
 *    DDL, SET, EXECUTE, SELECT … INTO, ...), anywhere, CTEs included (`WITH x AS (UPDATE …)`); or
 *  - a call of any function not on a list of built-ins known not to write (`nextval`, `setval`,
 *    `my_func()`: a user function may write).
 * Locking reads (`FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE`) do not count as writes. Words in
 * string literals and comments are not told apart: they can only make a read count as a write.
 * A query known not to write can say so with `$cache.raw([], query)`.
 */
export function rawSqlMayWrite(args: readonly unknown[]): boolean {
  const sql = rawSqlText(args).replace(LOCKING_CLAUSE, " ");
  // Calls are looked for in the text as it is and with comments blanked out (`my_func /* … */ ()`
  // is a call): the union, since blanking naively may also blank code between quoted `/*` and `*/`.
  // A Unicode-escaped identifier (`U&"…"`) may spell any name: taken as a call.
  return WRITE_KEYWORD.test(sql) || UNICODE_IDENTIFIER.test(sql) || callsUnknownFunction(sql) || callsUnknownFunction(withoutComments(sql));
}

const UNICODE_IDENTIFIER = /\bU&"/i;

/**
 * Whether a raw statement may truncate tables: the word anywhere in its text (a comment or a
 * string too: it only widens what a statement named through `$cache.raw()` invalidates).
 */
export function rawSqlMayTruncate(args: readonly unknown[]): boolean {
  return /\btruncate\b/i.test(rawSqlText(args));
}

/** The text with its comments blanked out as PostgreSQL reads them: `/* … *\/` nested, `--` to a line feed or carriage return. */
function withoutComments(sql: string): string {
  let out = "";
  let depth = 0;
  for (let i = 0; i < sql.length; i++) {
    const pair = sql.slice(i, i + 2);
    if (pair === "/*") {
      depth++;
      i++;
    } else if (depth > 0 && pair === "*/") {
      depth--;
      i++;
      if (depth === 0) out += " ";
    } else if (depth === 0 && pair === "--") {
      while (i < sql.length && sql[i] !== "\n" && sql[i] !== "\r") i++;
      out += " ";
    } else if (depth === 0) out += sql[i];
  }
  return out;
}

const WRITE_KEYWORD =
  /\b(insert|update|delete|merge|upsert|truncate|alter|drop|create|copy|call|do|into|grant|revoke|refresh|cluster|vacuum|reindex|execute|prepare|set|reset|discard|lock\s+table|import\s+foreign|comment\s+on|security\s+label|load\s+')\b/i;
const LOCKING_CLAUSE = /\bfor\s+(no\s+key\s+update|key\s+share|update|share)\b/gi;
/**
 * `name(` or `schema.name(`, quoted (`"my""func"`) or not, the name starting at an identifier's
 * start. PostgreSQL takes every non-ASCII character for a letter in identifiers: `élower(`,
 * `e\u0301lower(` or a zero-width space before `lower(` call another function than the built-in `lower`.
 */
const CALL = /(?<![A-Za-z0-9_$"\u{80}-\u{10FFFF}])((?:"(?:[^"]|"")+"|[A-Za-z_\u{80}-\u{10FFFF}][A-Za-z0-9_$\u{80}-\u{10FFFF}]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[A-Za-z_\u{80}-\u{10FFFF}][A-Za-z0-9_$\u{80}-\u{10FFFF}]*))*)\s*\(/gu;

/**
 * Words PostgreSQL never takes for a function's name, unquoted: its reserved keywords and those
 * that may name columns but not functions (`coalesce`, `numeric`, `values`). Unreserved keywords
 * (`first`, `over`, `filter`, `rows`) may name a user function: see CONTEXT_SYNTAX.
 */
const SYNTAX = new Set(
  ("all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create current_catalog current_date " +
    "current_role current_time current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign " +
    "from grant group having in initially intersect into lateral leading limit localtime localtimestamp not null offset on only or order " +
    "placing primary references returning select session_user some symmetric system_user table then to trailing true union unique user " +
    "using variadic when where window with " +
    "between bigint bit boolean char character coalesce dec decimal exists extract float greatest grouping inout int integer interval " +
    "least national nchar none normalize nullif numeric out overlay position precision real row setof smallint substring time timestamp " +
    "treat trim values varchar xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable").split(" "),
);

/**
 * Unreserved keywords that are syntax only where they follow these words (`count(*) OVER (`,
 * `WITH x AS NOT MATERIALIZED (`); elsewhere a call. `cube` and `rollup` are syntax only in a
 * GROUP BY clause (see groupByAt): `SELECT 1, rollup(x)` calls a function of that name.
 */
const CONTEXT_SYNTAX = new Map<string, RegExp>([
  ["over", /\)\s*$/],
  ["filter", /\)\s*$/],
  ["within", /\)\s*$/],
  ["cube", /(\bby|,|\()\s*$/i],
  ["rollup", /(\bby|,|\()\s*$/i],
  ["sets", /\bgrouping\s*$/i],
  ["materialized", /\bas(\s+not)?\s*$/i],
]);
const GROUPING_ONLY = new Set(["cube", "rollup"]);

/**
 * The clause keywords that decide where a GROUP BY ends: the last one before a `rollup(` says
 * whether it is a grouping set. A subquery inside the clause ends it too (its `SELECT`): a
 * grouping set after one is taken for a call, which can only make a read count as a write.
 */
const CLAUSE_KEYWORD = /\b(group\s+by|order\s+by|partition\s+by|select|from|where|having|window|limit|offset|fetch|union|intersect|except|returning|values|on|using)\b/gi;

/** Whether a position of `sql` lies in a GROUP BY clause, by the last clause keyword before it. */
function groupByAt(sql: string): (index: number) => boolean {
  // Computed once per statement, then searched: a statement with many calls stays linear.
  const keywords = [...sql.matchAll(CLAUSE_KEYWORD)].map((match) => ({ index: match.index, groupBy: /^group\s/i.test(match[1]!) }));
  return (index) => {
    let low = 0;
    let high = keywords.length - 1;
    let last = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if (keywords[middle]!.index < index) {
        last = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return last >= 0 && keywords[last]!.groupBy;
  };
}

/** Type names that are not keywords: syntax only in a cast (`::uuid(…)` never occurs, but `::text`, `AS date`), elsewhere possibly a function of that name. */
const TYPE_NAMES = new Set("text json jsonb uuid bytea date double varbit".split(" "));
const CAST_BEFORE = /(::|\bas)\s*$/i;

/** Built-in functions that read only (aggregates, window, string, math, date, JSON and array functions). */
const READ_ONLY_FUNCTIONS = new Set(
  ("count sum avg min max array_agg string_agg json_agg jsonb_agg json_object_agg jsonb_object_agg bool_and bool_or every bit_and bit_or " +
    "stddev stddev_pop stddev_samp variance var_pop var_samp percentile_cont percentile_disc mode corr covar_pop covar_samp " +
    "row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value " +
    "lower upper length char_length octet_length bit_length concat concat_ws replace split_part left right lpad rpad ltrim rtrim btrim " +
    "strpos starts_with reverse repeat initcap format md5 sha256 encode decode to_hex ascii chr translate quote_ident quote_literal " +
    "regexp_replace regexp_match regexp_matches regexp_split_to_array regexp_split_to_table string_to_array array_to_string " +
    "abs ceil ceiling floor round trunc sign mod power sqrt cbrt exp ln log log10 pi div width_bucket random gen_random_uuid " +
    "now current_date current_time current_timestamp localtime localtimestamp clock_timestamp statement_timestamp transaction_timestamp " +
    "date_trunc date_part date_bin age to_char to_date to_timestamp to_number make_date make_time make_timestamp make_timestamptz make_interval justify_days justify_hours justify_interval isfinite " +
    "to_json to_jsonb row_to_json array_to_json json_build_object jsonb_build_object json_build_array jsonb_build_array json_object jsonb_object " +
    "json_array_elements jsonb_array_elements json_array_elements_text jsonb_array_elements_text json_each jsonb_each json_each_text jsonb_each_text " +
    "json_extract_path jsonb_extract_path json_extract_path_text jsonb_extract_path_text json_typeof jsonb_typeof jsonb_set jsonb_insert jsonb_strip_nulls jsonb_pretty " +
    "json_array_length jsonb_array_length json_object_keys jsonb_object_keys jsonb_path_query jsonb_path_exists jsonb_path_match to_tsvector to_tsquery plainto_tsquery websearch_to_tsquery ts_rank ts_headline " +
    "array_length array_lower array_upper array_position array_positions array_append array_prepend array_cat array_remove array_replace cardinality unnest generate_series generate_subscripts " +
    "current_database current_schema current_schemas current_user session_user version pg_typeof num_nonnulls num_nulls").split(" "),
);

function callsUnknownFunction(sql: string): boolean {
  let inGroupBy: ((index: number) => boolean) | undefined;
  for (const match of sql.matchAll(CALL)) {
    const parts = match[1]!.split(".").map((part) => identifierOf(part.trim()));
    const name = parts[parts.length - 1]!;
    const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
    const quoted = match[1]!.trim().endsWith('"');
    if (schema === undefined && !quoted) {
      if (SYNTAX.has(name)) continue;
      const context = CONTEXT_SYNTAX.get(name) ?? (TYPE_NAMES.has(name) ? CAST_BEFORE : undefined);
      // What precedes the name decides; a bounded window keeps a long statement linear.
      if (context?.test(sql.slice(Math.max(0, match.index - 64), match.index)) && (!GROUPING_ONLY.has(name) || (inGroupBy ??= groupByAt(sql))(match.index))) continue;
    }
    if ((schema === undefined || schema === "pg_catalog") && READ_ONLY_FUNCTIONS.has(name)) continue;
    // A table or alias followed by a column list (`INSERT INTO t (a, b)`) is caught by its keyword anyway.
    return true;
  }
  return false;
}

/**
 * An identifier as PostgreSQL resolves it: quoted, exactly as spelt (`"Lower"` is not `lower`);
 * unquoted, with ASCII letters only lowercased (`ranK` with a Kelvin sign is not `rank`, though
 * JavaScript's toLowerCase makes it so).
 */
function identifierOf(spelt: string): string {
  if (spelt.startsWith('"')) return spelt.slice(1, -1).replace(/""/g, '"');
  return spelt.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

interface SqlLike {
  strings: readonly string[];
  values: readonly unknown[];
}

/** The SQL text a raw call sends, interpolated fragments inlined and parameters shown as `?`. */
export function rawSqlText(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === "string") return first; // $queryRawUnsafe(text, ...values)
  if (Array.isArray(first)) return templateText(first as readonly string[], args.slice(1), 0); // $queryRaw`…` (a TemplateStringsArray)
  if (isSqlLike(first)) return templateText(first.strings, first.values, 0); // $queryRaw(Prisma.sql`…`)
  const typed = first as { sql?: unknown } | null | undefined;
  if (typeof typed?.sql === "string") return typed.sql; // $queryRawTyped(typedSql), or anything carrying its text
  // Nothing recognisable: assume the worst.
  return "update";
}

function templateText(strings: readonly string[], values: readonly unknown[], depth: number): string {
  let text = strings[0] ?? "";
  for (let i = 1; i < strings.length; i++) text += valueText(values[i - 1], depth) + strings[i];
  return text;
}

/**
 * An interpolated value: a nested fragment is SQL text, joined to the text around it with nothing
 * between, as Prisma joins it (`DEL${Prisma.raw("ETE …")}` runs a DELETE: outside probe 264 found
 * it taken for a read when fragments were joined with spaces); anything else a parameter, which
 * splits the words beside it as PostgreSQL's `$1` does.
 */
function valueText(value: unknown, depth: number): string {
  if (!isSqlLike(value)) return "?";
  if (depth > 32) return " update ";
  return templateText(value.strings, value.values, depth + 1);
}

function isSqlLike(value: unknown): value is SqlLike {
  if (typeof value !== "object" || value === null) return false;
  const sql = value as Partial<SqlLike>;
  return Array.isArray(sql.strings) && Array.isArray(sql.values);
}
