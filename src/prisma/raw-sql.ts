import { sqlTokens, type SqlToken } from "./sql-tokens.js";

/**
 * Whether a raw query (`$queryRaw`, `$queryRawUnsafe`, `$queryRawTyped`) may change rows, from
 * its full SQL text: template strings, every interpolated `Prisma.sql` / `Prisma.raw` /
 * `Prisma.join` fragment at any depth, TypedSQL's text. Conservative by construction: a
 * statement may write when it contains
 *  - a keyword that writes or changes what later reads see (INSERT, UPDATE, DELETE, MERGE, COPY,
 *    DDL, SET, EXECUTE, SELECT … INTO, COMMIT, ...), anywhere, CTEs included (`WITH x AS (UPDATE …)`); or
 *  - a call of any function not on a list of built-ins known not to write (`nextval`, `setval`,
 *    `my_func()`: a user function may write).
 * Calls are found in the text as PostgreSQL's lexer splits it (see sqlTokens): a name glued to a
 * keyword (`SELECT"f"()`), a comment before the parenthesis, a `/*` or a `"` inside a string are
 * read as PostgreSQL reads them (outside probe 289 hid calls behind each of those). Keywords are
 * looked for in the raw text too: in a string or a comment they can only make a read count as a
 * write. Locking reads (`FOR UPDATE`, `FOR NO KEY UPDATE`, `FOR SHARE`) do not count as writes.
 * A query known not to write can say so with `$cache.raw([], query)`.
 */
export function rawSqlMayWrite(args: readonly unknown[]): boolean {
  const sql = rawSqlText(args);
  if (WRITE_KEYWORD.test(sql.replace(LOCKING_CLAUSE, " ")) || UNICODE_IDENTIFIER.test(sql)) return true;
  // A server with standard_conforming_strings off reads backslashes in plain strings as escapes:
  // where the text has any, it is read both ways.
  return tokensMayWrite(sqlTokens(sql)) || (sql.includes("\\") && tokensMayWrite(sqlTokens(sql, true)));
}

const UNICODE_IDENTIFIER = /\bU&"/i;

/**
 * Whether a raw statement may truncate tables: the word anywhere in its text (a comment or a
 * string too: it only widens what a statement named through `$cache.raw()` invalidates).
 */
export function rawSqlMayTruncate(args: readonly unknown[]): boolean {
  return /\btruncate\b/i.test(rawSqlText(args));
}

/** Keywords that write or change what later reads see, as words of the statement. */
const WRITE_WORDS = new Set("insert update delete merge upsert truncate alter drop create copy call do into grant revoke refresh cluster vacuum reindex execute prepare set reset discard commit".split(" "));
/** The same in the raw text (strings and comments too), with the statements named by two words. */
const WRITE_KEYWORD = new RegExp(`\\b(${[...WRITE_WORDS].join("|")}|lock\\s+table|import\\s+foreign|comment\\s+on|security\\s+label|load\\s+')\\b`, "i");
/** Not followed by "(": `substring(x FOR update(1))` calls a function named update (outside probe 291). */
const LOCKING_CLAUSE = /\bfor\s+(no\s+key\s+update|key\s+share|update|share)\b(?!\s*\()/gi;


/**
 * Words PostgreSQL never takes for a function's name, unquoted: its reserved keywords and those
 * that may name columns but not functions (`coalesce`, `numeric`, `values`). Unreserved keywords
 * (`first`, `over`, `filter`, `rows`) may name a user function: see syntaxBefore. As of
 * PostgreSQL 15 (`system_user`, a keyword from 16 on, may name a function there: outside probe 291).
 */
const SYNTAX = new Set(
  ("all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create current_catalog current_date " +
    "current_role current_time current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign " +
    "from grant group having in initially intersect into lateral leading limit localtime localtimestamp not null offset on only or order " +
    "placing primary references returning select session_user some symmetric table then to trailing true union unique user " +
    "using variadic when where window with " +
    "between bigint bit boolean char character coalesce dec decimal exists extract float greatest grouping inout int integer interval " +
    "least national nchar none normalize nullif numeric out overlay position precision real row setof smallint substring time timestamp " +
    "treat trim values varchar xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable").split(" "),
);

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
    "json_array_length jsonb_array_length json_object_keys jsonb_object_keys jsonb_path_query jsonb_path_query_first jsonb_path_query_array jsonb_path_exists jsonb_path_match " +
    "to_tsvector to_tsquery plainto_tsquery websearch_to_tsquery ts_rank ts_rank_cd ts_headline " +
    "json_to_record jsonb_to_record json_to_recordset jsonb_to_recordset json_populate_record jsonb_populate_record json_populate_recordset jsonb_populate_recordset string_to_table pg_sleep " +
    "array_length array_lower array_upper array_position array_positions array_append array_prepend array_cat array_remove array_replace cardinality unnest generate_series generate_subscripts " +
    "current_database current_schema current_schemas current_user session_user version pg_typeof num_nonnulls num_nulls").split(" "),
);

/** Clause keywords: the last one at a parenthesis depth says which clause a `rollup(` is in. */
const CLAUSES = new Set("select from where having window limit offset fetch union intersect except returning values on using".split(" "));

/** A parenthesis (or bracket): a call's (its arguments), a window or aggregate suffix's (`OVER (…)`), or any other. */
interface Paren {
  kind: "call" | "suffix" | "plain";
  /** The last clause keyword read inside it (`group by`), or `grouping sets` for a GROUPING SETS list. */
  clause: string | undefined;
}

/**
 * Whether a statement's tokens write: a write keyword outside a locking clause, `END` starting
 * a statement (a COMMIT), or a call of a function not known to read only.
 */
function tokensMayWrite(tokens: readonly SqlToken[]): boolean {
  const parens: Paren[] = [{ kind: "plain", clause: undefined }];
  let lastClosed: Paren["kind"] | undefined;
  const lower = (at: number) => (tokens[at]?.kind === "word" ? asciiLower(tokens[at]!.text) : undefined);
  for (let at = 0; at < tokens.length; at++) {
    const token = tokens[at]!;
    const word = lower(at);
    const previous = lower(at - 1);
    const here = parens[parens.length - 1]!;
    if (token.kind === "unicode") return true;
    if (token.kind === "symbol") {
      if (token.text === "(" || token.text === "[") {
        // Not after a name (a name's parenthesis is pushed where the name is read, below): an
        // expression, even in a GROUP BY clause (`GROUP BY (cube(1))` and `GROUP BY ARRAY[1, cube(1)]` call `cube`).
        parens.push({ kind: "plain", clause: undefined });
      } else if (token.text === ")" || token.text === "]") {
        if (parens.length > 1) lastClosed = parens.pop()!.kind;
      } else if (token.text === ";") {
        parens.length = 1;
        parens[0]!.clause = undefined;
      }
      continue;
    }
    if (word !== undefined) {
      // A locking clause: FOR UPDATE, FOR NO KEY UPDATE, FOR SHARE, FOR KEY SHARE.
      // Not followed by "(": after FOR in `substring(x FOR update(1))` a function named update is called.
      if (word === "for") {
        const lock = [lower(at + 1), lower(at + 2), lower(at + 3)];
        const length = lock[0] === "update" || lock[0] === "share" ? 1 : lock[0] === "key" && lock[1] === "share" ? 2 : lock[0] === "no" && lock[1] === "key" && lock[2] === "update" ? 3 : 0;
        if (length > 0 && tokens[at + length + 1]?.text !== "(") at += length;
        continue;
      }
      if (WRITE_WORDS.has(word)) return true;
      // END starting a statement is a COMMIT (elsewhere it ends a CASE).
      if (word === "end" && (at === 0 || tokens[at - 1]!.text === ";")) return true;
      if (word === "by" && previous === "group") here.clause = "group by";
      else if (CLAUSES.has(word) || (word === "by" && (previous === "order" || previous === "partition"))) here.clause = word;
    }
    if (token.kind !== "word" && token.kind !== "quoted") continue;
    // A name, perhaps qualified: the call is read where its last part is followed by "(".
    const parts = [token];
    let end = at;
    while (tokens[end + 1]?.text === "." && tokens[end + 1]!.kind === "symbol" && (tokens[end + 2]?.kind === "word" || tokens[end + 2]?.kind === "quoted")) {
      parts.push(tokens[end + 2]!);
      end += 2;
    }
    const opens = tokens[end + 1]?.kind === "symbol" && tokens[end + 1]!.text === "(";
    if (!opens) {
      at = end;
      continue;
    }
    const name = identifierOf(parts[parts.length - 1]!);
    const schema = parts.length > 1 ? identifierOf(parts[parts.length - 2]!) : undefined;
    const syntax = parts.length === 1 && token.kind === "word" && syntaxBefore(name, tokens, at, here, lastClosed, lower);
    // A type's modifiers (`x::numeric(10, 2)`, `CAST(x AS varchar(3))`) or an alias's column list (`AS t (a, b)`): no call.
    const typed = previous === "as" || (tokens[at - 1]?.kind === "symbol" && tokens[at - 1]!.text === "::");
    if (!syntax && !typed && !((schema === undefined || schema === "pg_catalog") && READ_ONLY_FUNCTIONS.has(name))) return true;
    at = end + 1;
    // A window or aggregate suffix's parenthesis counts as a call's for what follows it (`FILTER (…) OVER (…)`).
    const suffix = syntax && (name === "over" || name === "filter" || (name === "group" && previous === "within"));
    const kind = suffix ? "suffix" : syntax || typed ? "plain" : "call";
    // A GROUPING SETS list may hold ROLLUP and CUBE; their own lists hold expressions.
    parens.push({ kind, clause: syntax && name === "sets" ? "grouping sets" : undefined });
  }
  return false;
}

/**
 * Whether an unquoted, unqualified name followed by "(" is syntax here, not a call: a reserved
 * word, or an unreserved one where the words before make it syntax — `count(*) OVER (`,
 * `… FILTER (`, `… WITHIN GROUP (` after a call's parenthesis (`DISTINCT ON (1) over(1)` calls
 * `over`); `ROLLUP (`/`CUBE (` as an item of a GROUP BY clause or of a GROUPING SETS list
 * (`SELECT 1, rollup(1)` and `GROUP BY (cube(1))` call them); `GROUPING SETS (`; `AS [NOT] MATERIALIZED (`; `GROUP BY (`, `ORDER BY (`,
 * `PARTITION BY (`; `TABLESAMPLE method (`.
 */
function syntaxBefore(name: string, tokens: readonly SqlToken[], at: number, here: Paren, lastClosed: Paren["kind"] | undefined, lower: (at: number) => string | undefined): boolean {
  if (SYNTAX.has(name)) return true;
  const previous = lower(at - 1);
  const afterCall = tokens[at - 1]?.kind === "symbol" && tokens[at - 1]!.text === ")" && lastClosed !== undefined && lastClosed !== "plain";
  switch (name) {
    case "over":
    case "filter":
    case "within":
      return afterCall;
    case "cube":
    case "rollup": {
      const before = tokens[at - 1];
      const comma = before?.kind === "symbol" && before.text === ",";
      const open = before?.kind === "symbol" && before.text === "(";
      return (here.clause === "group by" && (previous === "by" || comma)) || (here.clause === "grouping sets" && (comma || open));
    }
    case "sets":
      return previous === "grouping";
    case "materialized":
      return previous === "as" || (previous === "not" && lower(at - 2) === "as");
    case "by":
      return previous === "group" || previous === "order" || previous === "partition";
    default:
      return previous === "tablesample";
  }
}

/**
 * A name as PostgreSQL resolves it: quoted, exactly as spelt (`"Lower"` is not `lower`);
 * unquoted, with ASCII letters only lowercased (`ranK` with a Kelvin sign is not `rank`, though
 * JavaScript's toLowerCase makes it so).
 */
function identifierOf(token: SqlToken): string {
  return token.kind === "quoted" ? token.text : asciiLower(token.text);
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
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
  // A plain object is a parameter (JSON), whatever its fields: Prisma inlines its own Sql instances only (outside probe 289).
  if (!isSqlLike(value) || isPlainObject(value)) return "?";
  if (depth > 32) return " update ";
  return templateText(value.strings, value.values, depth + 1);
}

function isSqlLike(value: unknown): value is SqlLike {
  if (typeof value !== "object" || value === null) return false;
  const sql = value as Partial<SqlLike>;
  return Array.isArray(sql.strings) && Array.isArray(sql.values);
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}
