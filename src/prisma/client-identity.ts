import { canonicalize } from "../key/canonical.js";
import { sha256 } from "../key/hash.js";
import { CACHED_READS } from "./stats-control.js";

/** Where Prisma 7 keeps what the client was constructed with (internal, so read defensively). */
interface ClientInternals {
  _globalOmit?: unknown;
  /** The extension chain: its `result` extensions add computed fields to every result. */
  _extensions?: {
    getAllComputedFields?(model: string): Record<string, { needs?: unknown }> | undefined;
    /** The query hooks a model's operation runs through (looked up by the model's client property, `user`). */
    getAllQueryCallbacks?(delegateKey: string, operation: string): readonly unknown[];
  };
  _engineConfig?: { adapter?: unknown; accelerateUrl?: unknown };
  /** The generator's preview features: some make arguments valid that Prisma refuses without them (`search`, `relationLoadStrategy`). */
  _previewFeatures?: readonly string[];
}

interface AdapterLike {
  adapterName?: unknown;
  provider?: unknown;
  /** PrismaPg, PrismaNeon, ...: the pool configuration; better-sqlite3, libsql: `{ url }`. */
  config?: unknown;
  /** PrismaPg: `{ schema }`, the search path every query runs in. */
  options?: unknown;
  externalPool?: { options?: unknown } | null;
}

/** Connection fields that select a database, a schema or a user (whose row-level security changes rows). */
const CONNECTION_FIELDS = ["connectionString", "url", "uri", "host", "hostname", "port", "database", "db", "user", "username", "filename", "schema", "options", "searchPath"];
/** libpq's defaults for the fields a pg configuration leaves out. */
const PG_ENV: Record<string, string> = { host: "PGHOST", port: "PGPORT", database: "PGDATABASE", user: "PGUSER", options: "PGOPTIONS" };

export interface ClientIdentity {
  /** A short hash of everything below, for the cache key. */
  id: string;
  /** False when the adapter exposes no connection details: clients of different databases could then share entries. */
  databaseKnown: boolean;
  /**
   * A short hash of which rows the client reads (adapter, host, port, database, user, schema:
   * not connection options such as `application_name`, nor omit, computed fields or hooks):
   * what a Bloom filter of the table's identities is shared by. Undefined when unknown.
   */
  database: string | undefined;
}

/**
 * What, besides the arguments, decides a client's results: its global `omit` (hidden fields),
 * the computed fields of `result` extensions applied before this one (by name and the fields they
 * need; two computations under one name are not told apart), the code of the query hooks of
 * extensions applied before this one on cached reads (a hook that masks a field or filters rows:
 * two hooks of one code that differ only in what their closure holds are not told apart) and
 * which database it reads (adapter, host, port, database, user, schema). Computed once, when the
 * extension is applied; two clients that differ in any of them never share an entry. Passwords
 * never enter it, and only its hash reaches keys.
 */
export function clientIdentity(client: unknown, modelNames: readonly string[] = [], delegateKeys: ReadonlyMap<string, string> = new Map()): ClientIdentity {
  const internals = (client ?? {}) as ClientInternals;
  const adapter = internals._engineConfig?.adapter as AdapterLike | undefined;
  const database = databaseIdentity(adapter, internals._engineConfig?.accelerateUrl);
  const hooks = queryHooks(internals, delegateKeys);
  // Preview features only when there are some: the identity of a client without them is unchanged.
  // A client without `fullTextSearchPostgres` must not be answered a `search` from the entry of one
  // with it, where Prisma refuses the query (outside probe 285: 4 of 4 such queries answered).
  const features = Array.isArray(internals._previewFeatures) && internals._previewFeatures.length > 0 ? [...internals._previewFeatures].map(String).sort() : undefined;
  const text = canonicalize({ omit: internals._globalOmit ?? null, database: database ?? null, computed: computedFields(internals, modelNames), hooks, features });
  return { id: sha256(text).slice(0, 10), databaseKnown: database !== undefined, database: database === undefined ? undefined : sha256(canonicalize(rowsOf(database, adapter?.provider))).slice(0, 10) };
}

/** The client part of keys for a client given a static `scope`: its identity and the scope, hashed together. */
export function scopedClientId(id: string, scope: string): string {
  return sha256(canonicalize({ client: id, scope })).slice(0, 10);
}

/** A hash of the source of every query hook on the cached reads, by model and operation; undefined when there is none (the identity of a client without hooks is unchanged). */
function queryHooks(internals: ClientInternals, delegateKeys: ReadonlyMap<string, string>): Record<string, string[]> | undefined {
  const out: Record<string, string[]> = {};
  for (const [model, key] of delegateKeys) {
    for (const operation of CACHED_READS) {
      const hooks = internals._extensions?.getAllQueryCallbacks?.(key, operation) ?? [];
      if (hooks.length > 0) out[`${model}.${operation}`] = hooks.map((hook) => sha256(String(hook)).slice(0, 10));
    }
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * The connection fields that decide which rows are read, spelt one way: a URL's parts as fields
 * (it overrides the fields beside it, as pg reads it), loopback hosts as one, host names in lower
 * case, a default port written out, `postgres:` as `postgresql:`. Connection options other than the
 * schema do not count. Instances of one database must agree on it whatever their configuration
 * spells (the schema epoch of a rolling deploy is per database: see BUMP_VERSIONS); a database
 * reached under another name (a DNS alias, its IP address, a pooler) still counts as another.
 */
function rowsOf(database: Record<string, unknown>, provider: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(database)) out[FIELD_ALIASES[field] ?? field] = value;
  for (const field of ["connectionString", "url", "uri"]) {
    const value = out[field];
    if (typeof value !== "string" || value.startsWith("#")) continue;
    delete out[field];
    Object.assign(out, urlFields(new URL(value)));
  }
  // The adapter names the protocol already (a pool configuration has none).
  const protocol = typeof out.protocol === "string" ? out.protocol : typeof provider === "string" ? (PROTOCOLS[provider] ?? provider) : undefined;
  delete out.protocol;
  // What pg falls back on for the parts left out: the environment, then its defaults.
  if (protocol === "postgresql") {
    for (const [field, variable] of Object.entries(PG_ENV)) out[field] ??= process.env[variable];
    out.host ??= "localhost";
    out.user ??= process.env.USER;
    out.database ??= out.user;
    // Prisma names every table with its schema — the adapter's `schema` option, else `public` — so
    // a search path set in the connection options changes no model query's rows, and
    // @prisma/adapter-pg reads no schema from the URL (outside probe 227: a version that said
    // `{ schema: "public" }` or `?schema=public`, beside one that said nothing, made one database
    // two, whose writes never reached each other's entries through the schema epoch).
    // (`public` is left out rather than written in: the identity of a client that names no schema
    // stays what it was before this rule, and an upgrade does not split the fleet's Bloom filters.)
    if (out.schema === "public") delete out.schema;
    if (typeof out.options === "string") {
      const options = withoutRowNeutralSettings(out.options);
      if (options === "") delete out.options;
      else out.options = options;
    }
    if (out.adapter === "@prisma/adapter-pg") for (const name of Object.keys(out)) if (/^\?(schema|search_?path|currentSchema)$/i.test(name)) delete out[name];
  }
  if (typeof out.host === "string") out.host = LOOPBACK.has(out.host.toLowerCase()) ? "localhost" : out.host.toLowerCase();
  if (out.port === undefined && protocol !== undefined && DEFAULT_PORTS[protocol] !== undefined) out.port = DEFAULT_PORTS[protocol];
  if (out.port !== undefined) out.port = String(out.port);
  return out;
}

/**
 * Settings in libpq `options` that change no model query's rows: the search path (Prisma names
 * every table with its schema), the session's name and its timeouts. Any other (a role, a custom
 * setting a row-level security policy reads) counts (outside probe 228: a `-c application_name`
 * in `options` made another database, where the `application_name` field did not).
 */
const ROW_NEUTRAL_SETTINGS = /^(search[_-]path|application[_-]name|statement[_-]timeout|lock[_-]timeout|idle[_-]in[_-]transaction[_-]session[_-]timeout)=/i;

/** libpq `options` split into its words as the server reads them: at whitespace, except where a backslash escapes it (`application_name=my\ app`). */
function optionWords(options: string): string[] {
  const words: string[] = [];
  let word = "";
  for (let i = 0; i < options.length; i++) {
    const char = options[i]!;
    if (char === "\\" && i + 1 < options.length) word += char + options[++i]!;
    else if (/\s/.test(char)) {
      if (word !== "") words.push(word);
      word = "";
    } else word += char;
  }
  if (word !== "") words.push(word);
  return words;
}

/** libpq `options` without its row-neutral settings (`-c name=…`, `-cname=…`, `--name=…`), spaces normalized. */
function withoutRowNeutralSettings(options: string): string {
  // (outside probe 231: split at every space, `application_name=my\ app` left a word `app` behind, another database)
  const words = optionWords(options);
  const kept: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    // `-c name=value` is two words; `-cname=value` and `--name=value` one.
    const setting = word === "-c" ? words[++i] : word.startsWith("-c") || word.startsWith("--") ? word.slice(2) : undefined;
    if (setting !== undefined && ROW_NEUTRAL_SETTINGS.test(setting)) continue;
    kept.push(word);
    if (word === "-c" && setting !== undefined) kept.push(setting);
  }
  return kept.join(" ");
}

const FIELD_ALIASES: Record<string, string> = { hostname: "host", username: "user", db: "database" };
const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);
const PROTOCOLS: Record<string, string> = { postgres: "postgresql", mariadb: "mysql" };
const DEFAULT_PORTS: Record<string, string> = { postgresql: "5432", mysql: "3306", sqlserver: "1433" };

/** A connection URL's parts that decide which rows are read. */
function urlFields(url: URL): Record<string, string> {
  const scheme = url.protocol.replace(/:$/, "").toLowerCase();
  const out: Record<string, string> = { protocol: PROTOCOLS[scheme] ?? scheme };
  if (url.hostname !== "") out.host = decodeURIComponent(url.hostname);
  if (url.port !== "") out.port = url.port;
  if (url.pathname.length > 1) out.database = decodeURIComponent(url.pathname.slice(1));
  if (url.username !== "") out.user = decodeURIComponent(url.username);
  for (const [name, value] of url.searchParams) {
    // pg takes the host (a socket directory), the port and the user from the query before the URL's own, and options from there before PGOPTIONS.
    if (/^(host|port|user|options)$/.test(name)) out[name] = value;
    else if (/^(schema|search_?path|currentSchema)$/i.test(name)) out[`?${name}`] = value;
  }
  return out;
}

function computedFields(internals: ClientInternals, modelNames: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const model of modelNames) {
    const fields = internals._extensions?.getAllComputedFields?.(model);
    if (fields === undefined || Object.keys(fields).length === 0) continue;
    out[model] = Object.fromEntries(Object.entries(fields).map(([name, field]) => [name, field.needs ?? null]));
  }
  return out;
}

function databaseIdentity(adapterValue: unknown, accelerateUrl: unknown): Record<string, unknown> | undefined {
  if (typeof accelerateUrl === "string") return { accelerate: withoutSecrets(accelerateUrl) };
  if (typeof adapterValue !== "object" || adapterValue === null) return undefined;
  const adapter = adapterValue as AdapterLike;
  const config = adapter.config ?? adapter.externalPool?.options;
  const fields = { ...connectionFields(config, adapter.provider === "postgres"), ...connectionFields(adapter.options, false) };
  if (Object.keys(fields).length === 0) return undefined;
  return { adapter: String(adapter.adapterName ?? "unknown"), ...fields };
}

function connectionFields(source: unknown, pgDefaults: boolean): Record<string, string> {
  if (typeof source === "string") return { connectionString: withoutSecrets(source) };
  if (typeof source !== "object" || source === null) return {};
  const record = source as Record<string, unknown>;
  const out: Record<string, string> = {};
  const envDefaults = pgDefaults && record.connectionString === undefined;
  for (const field of CONNECTION_FIELDS) {
    const value = record[field] ?? (envDefaults && PG_ENV[field] !== undefined ? process.env[PG_ENV[field]] : undefined);
    if (typeof value === "string" || typeof value === "number") out[field] = field === "connectionString" || field === "url" || field === "uri" ? withoutSecrets(String(value)) : String(value);
  }
  return out;
}

/** A connection URL without its password (or any query parameter naming one). */
function withoutSecrets(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `#${sha256(text)}`;
  }
  url.password = "";
  for (const name of [...url.searchParams.keys()]) if (/pass|secret|key|token/i.test(name)) url.searchParams.delete(name);
  url.searchParams.sort();
  return url.toString();
}
