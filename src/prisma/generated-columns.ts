import type { DmmfField } from "./schema-wasm.js";

/**
 * Whether the database or Prisma may give `field` a new value on an update whose data does not
 * name it: an `@updatedAt` field (Prisma sets it on every update), or a `dbgenerated` default
 * whose expression reads a column of the row — a generated column (`GENERATED ALWAYS AS
 * (lower(code)) STORED`), recomputed when that column changes. The schema spells both as
 * `@default(dbgenerated("…"))`; a column default cannot read the row's columns (PostgreSQL
 * refuses it), and a unique generated column that read none would hold one value for every row,
 * so an expression that names no column is drawn once, at insert (`gen_random_uuid()`,
 * `nextval('seq'::regclass)`, `nanoid()`). Such a field in a unique key re-keys the record where
 * the write's arguments do not show it (outside probe 122: a unique read by a generated column
 * served the row it named before the update; outside probe 124: a list of insert-time function
 * names also took the immutable `uuid_generate_v5(ns, path)` for one).
 */
export function rewrittenOnUpdate(field: DmmfField): boolean {
  if (field.isUpdatedAt === true) return true;
  const generated = field.default as { name?: unknown; args?: unknown } | null | undefined;
  if (typeof generated !== "object" || generated === null || generated.name !== "dbgenerated") return false;
  return !Array.isArray(generated.args) || typeof generated.args[0] !== "string" || readsColumn(generated.args[0]);
}

/**
 * PostgreSQL's reserved words that may stand in an expression without parentheses: none can be a
 * column's unquoted name (PostgreSQL quotes such a column when it prints the expression), unlike
 * its other keywords — a column may be called `zone`, `at` or `time` (outside probe 129).
 */
const RESERVED_WORDS = new Set([
  "all", "and", "any", "array", "as", "asc", "both", "case", "cast", "collate", "current_catalog", "current_date", "current_role",
  "current_schema", "current_time", "current_timestamp", "current_user", "desc", "distinct", "else", "end", "false", "from", "ilike",
  "in", "is", "isnull", "leading", "like", "localtime", "localtimestamp", "not", "notnull", "null", "or", "session_user", "similar",
  "some", "symmetric", "then", "trailing", "true", "user", "when", "with",
]);

/** Type names after `::` or `AS`, several words long included (`double precision`, `timestamp(3) without time zone`). */
const TYPE_NAME = String.raw`("[^"]*"|double\s+precision|(?:character|bit)\s+varying|(?:timestamp|time)(?:\s*\(\d+\))?\s+with(?:out)?\s+time\s+zone|[a-z_][\w.]*)(\s*\([^)]*\))?(\s*\[\])*`;

const CAST = new RegExp(String.raw`::\s*` + TYPE_NAME, "gi");
const AS_TYPE = new RegExp(String.raw`\bas\s+` + TYPE_NAME, "gi");

/**
 * Whether a SQL expression names a column: an identifier, quoted or not, that is neither a
 * function's name (followed by a parenthesis), a type (after `::` or `AS`), a string's content
 * nor a reserved word. Unsure spellings count as columns: at worst every update of the model
 * invalidates its unique reads.
 */
export function readsColumn(expression: string): boolean {
  const text = expression
    // Dollar-quoted strings first: `$$'$$` holds a quote that would open a single-quoted one (outside probe 130).
    .replace(/\$([a-z_]\w*)?\$[\s\S]*?\$\1\$/gi, " ")
    .replace(/'(?:[^']|'')*'/g, " ")
    .replace(CAST, " ")
    .replace(AS_TYPE, " ")
    .replace(/\bat\s+time\s+zone\b/gi, " ");
  for (const match of text.matchAll(/"(?:[^"]|"")+"|`[^`]+`|\[[a-z_][^\]]*\]|[a-z_][\w$]*(?:\.[a-z_][\w$]*)*/gi)) {
    const after = text.slice(match.index! + match[0].length).trimStart();
    if (after.startsWith("(")) continue;
    if (RESERVED_WORDS.has(match[0].toLowerCase())) continue;
    return true;
  }
  return false;
}
