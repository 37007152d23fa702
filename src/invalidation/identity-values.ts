import { isDecimalJsLike } from "./relation-walk.js";

/**
 * How an identity field's values compare in the database, so that every spelling of one value
 * maps to one tag (and one Bloom member):
 * - `text`, `int32`, `int64`, `float`, `boolean`, `bytes`: compared as written (case-sensitive
 *   text and enums, integers, doubles, booleans, bytes) — a value Prisma would reject, convert or
 *   truncate (`NaN`, `1.5` or `2 ** 40` for an `Int`, a number for a `String`) has no spelling;
 * - `plain`: a field of unknown type, compared as written;
 * - `uuid`: case-insensitive hex, hyphens and braces optional (`@db.Uuid`);
 * - `instant`: a Date or an ISO 8601 string with an offset, as one millisecond instant;
 * - `decimal`: by numeric value (`"10.50"`, `10.5` and `Decimal(10.5)` are one value);
 * - `fixed-width`: blank-padded text (`@db.Char(n)`), trailing spaces insignificant;
 * - `inexact`: equality the cache cannot reproduce (citext, case-insensitive collations, unknown
 *   native types): no tag, so reads by it depend on the model's generation and skip the Bloom guard;
 * - an enum's values (`EnumValues`): its names as Prisma takes them — any other string (a value's
 *   `@map` name, another case) is Prisma's validation error, not a value no record has.
 */
export type IdentityValueKind = "text" | "int32" | "int64" | "float" | "boolean" | "bytes" | "plain" | "uuid" | "instant" | "decimal" | "fixed-width" | "inexact" | EnumValues;

/** An enum field's kind: the names of its values (an array, so that identities serialize). */
export interface EnumValues {
  readonly enum: readonly string[];
}

/** The canonical spelling of an identity value, or undefined when it cannot be known exactly. */
export function canonicalIdentityValue(kind: IdentityValueKind, value: unknown): string | undefined {
  if (typeof kind === "object") return typeof value === "string" && kind.enum.includes(value) ? value : undefined;
  switch (kind) {
    case "text":
      return typeof value === "string" ? storedText(value) : undefined;
    case "int32":
      return typeof value === "number" && Number.isInteger(value) && value >= INT32_MIN && value <= INT32_MAX ? String(value) : undefined;
    case "int64":
      if (typeof value === "number") return Number.isSafeInteger(value) ? String(value) : undefined;
      return typeof value === "bigint" && value >= INT64_MIN && value <= INT64_MAX ? String(value) : undefined;
    case "float":
      return typeof value === "number" && Number.isFinite(value) ? String(floatOfNumber(value)) : undefined;
    case "boolean":
      return typeof value === "boolean" ? String(value) : undefined;
    case "bytes":
      return value instanceof Uint8Array ? Buffer.from(value).toString("base64") : undefined;
    case "plain":
      return plain(value);
    case "uuid":
      return typeof value === "string" ? uuid(value) : undefined;
    case "instant":
      return instant(value);
    case "decimal":
      return decimal(value);
    case "fixed-width":
      return typeof value === "string" ? storedText(value)?.replace(/ +$/, "") : undefined;
    case "inexact":
      return undefined;
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Text as the database stores it: sent as UTF-8, a lone surrogate becomes U+FFFD (so `"x\ud800"`
 * and `"x\ufffd"` name one row); text with a NUL character is refused by PostgreSQL (no spelling).
 */
function storedText(value: string): string | undefined {
  if (value.includes("\u0000")) return undefined;
  return /[\ud800-\udfff]/.test(value) ? Buffer.from(value, "utf8").toString("utf8") : value;
}

function plain(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  return String(value);
}

/** PostgreSQL's uuid input: 32 hex digits, optionally in braces, a hyphen allowed after any group of four. */
function uuid(value: string): string | undefined {
  const unbraced = value.startsWith("{") && value.endsWith("}") ? value.slice(1, -1) : value;
  if (!/^[0-9a-f]{4}(?:-?[0-9a-f]{4}){7}$/i.test(unbraced)) return undefined;
  const hex = unbraced.replace(/-/g, "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * `2024-01-02T03:04:05Z`, `…05.120+02:00`: a date, a time with seconds, at most milliseconds, and
 * an offset. Prisma refuses a time without seconds (`…T03:04Z`) as a validation error.
 */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:\d{2})$/;

function instant(value: unknown): string | undefined {
  if (value instanceof Date) return inStoredRange(value);
  // Without an offset JavaScript reads local time; beyond milliseconds the database rounds what
  // JavaScript truncates: neither can be mapped to the stored instant with certainty.
  if (typeof value !== "string" || !ISO_INSTANT.test(value) || !validCalendarFields(value)) return undefined;
  return inStoredRange(new Date(Date.parse(value)));
}

/**
 * An instant of the years 1–9999 in UTC, as the driver sends it: it writes the year in four
 * digits, and PostgreSQL rejects what falls outside (outside probe 171: a Date before year 1,
 * or `9999-12-31T23:59:59.999-14:00`, year 10000 in UTC, failed in the database).
 */
function inStoredRange(date: Date): string | undefined {
  const year = date.getUTCFullYear();
  return Number.isNaN(date.getTime()) || year < 1 || year > 9999 ? undefined : date.toISOString();
}

/** A date and time the database takes as written: `Date.parse` rolls `2024-02-30` over into March, PostgreSQL rejects it (and year 0). */
function validCalendarFields(value: string): boolean {
  const [year, month, day, hour, minute, second = 0] = value.match(/\d+/g)!.slice(0, 6).map(Number) as number[];
  const daysInMonth = new Date(Date.UTC(year!, month!, 0)).getUTCDate();
  return year! >= 1 && month! >= 1 && month! <= 12 && day! >= 1 && day! <= daysInMonth && hour! <= 23 && minute! <= 59 && second <= 59;
}

/** PostgreSQL's numeric input: at most this many digits before the point, and after it (as written, trailing zeros included). */
const MAX_INTEGER_DIGITS = 131_072;
const MAX_FRACTION_DIGITS = 16_383;

/**
 * Digits and a decimal exponent, without leading or trailing zeros: `10.50` → `105e-1`. Not a
 * bigint, which Prisma refuses for a Decimal, nor a numeral the database refuses as out of range
 * (outside probe 171: `1e150000`, `1e-20000`).
 */
function decimal(value: unknown): string | undefined {
  if (typeof value === "number" && !Number.isFinite(value)) return undefined;
  // Not trimmed: Prisma rejects " 10.5" as a Decimal.
  const text = typeof value === "string" ? value : typeof value === "number" ? decimalOfNumber(value) : isDecimalJsLike(value) ? decimalText(value) : undefined;
  const match = text === undefined ? null : /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (match === null || (match[2] === "" && (match[3] ?? "") === "")) return undefined;
  const [, sign, whole = "", fraction = "", exponent = "0"] = match;
  const power = Number(exponent);
  if (!Number.isSafeInteger(power) || fraction.length - power > MAX_FRACTION_DIGITS) return undefined;
  const digits = `${whole}${fraction}`.replace(/^0+/, "");
  if (digits.length + power - fraction.length > MAX_INTEGER_DIGITS) return undefined;
  if (digits === "") return "0";
  const trimmed = digits.replace(/0+$/, "");
  const scale = Number(exponent) - fraction.length + (digits.length - trimmed.length);
  return `${sign === "-" ? "-" : ""}${trimmed}e${scale}`;
}

/** What Prisma sends for a Decimal (its `toFixed()`), or undefined if that throws (Prisma's error, not a value). */
function decimalText(value: { toFixed(): unknown }): string | undefined {
  try {
    const text = value.toFixed();
    return typeof text === "string" ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The double PostgreSQL compares for a number given for a Float: the number itself, except a whole
 * number Prisma does not send as written (beyond i64's range), which it sends as it sends one for a
 * Decimal — `2 ** 64` as 18446744073709550000, another double (outside probe 209: keyed as
 * written, a read by it missed every write to the row Prisma found, and the Bloom guard answered
 * "not found" for it).
 */
function floatOfNumber(value: number): number {
  return Number.isInteger(value) ? Number(decimalOfNumber(value)) : value;
}

/** i64's range: Prisma's engine reads an integral JSON number within it exactly, any other as a double. */
const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;
/** The significant digits Prisma keeps of a double given for a Decimal (Rust's `f64::DIGITS` + 1). */
const DOUBLE_DIGITS = 16;

/**
 * A number given for a Decimal, as Prisma sends it: an integer JSON writes without an exponent,
 * within i64's range, as written; any other as the double rounded to 16 significant digits, a tie
 * to even — `0.1 + 0.2` is sent as `0.3`, `123456.78901234567` as `123456.7890123457`,
 * `851947985036781.25` as `851947985036781.2`. Keyed as written, a read of the row `d = 0.3` by
 * `0.1 + 0.2` depended on another record than the writes to that row (outside probe 207: stale
 * after every update, a deleted row served, "not found" through the Bloom guard).
 */
export function decimalOfNumber(value: number): string {
  const text = String(value);
  if (/^-?\d+$/.test(text)) {
    const integer = BigInt(text);
    if (integer >= I64_MIN && integer <= I64_MAX) return text;
  }
  const rounded = value.toPrecision(DOUBLE_DIGITS);
  // toPrecision rounds a tie away from zero. A tie: the double's exact value has 17 significant
  // digits, the last a 5 (its expansion is finite: 100 digits show all of it or more than 17).
  const exact = /^(-?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/.exec(value.toPrecision(100))!;
  const [, sign, whole = "", fraction = "", exponent = "0"] = exact;
  const digits = `${whole}${fraction}`.replace(/^0+/, "");
  const tie = digits[DOUBLE_DIGITS] === "5" && /^0*$/.test(digits.slice(DOUBLE_DIGITS + 1));
  if (!tie || Number(digits[DOUBLE_DIGITS - 1]) % 2 === 1) return rounded;
  // The 16th digit is even: the tie goes down, to the first 16 digits.
  return `${sign}${digits.slice(0, DOUBLE_DIGITS)}e${Number(exponent) - fraction.length + digits.length - DOUBLE_DIGITS}`;
}
