import { cloneValue, copyEncoded, entryCopier, hasDataSymbols, setOwn, type Copier } from "./clone-plan.js";
import { NotFoundMarker } from "./not-found.js";

/**
 * Hooks for a decimal type the codec must carry (Prisma's Decimal). The adapter supplies them so
 * the codec stays free of Prisma.
 */
export interface DecimalHooks {
  /** Any decimal.js instance, whichever copy of decimal.js made it (Prisma accepts them all in arguments). */
  isDecimal(value: object): boolean;
  /**
   * The class decoded values get: in exact mode only its own instances are encoded. (decimal.js
   * copies made by `Decimal.clone()` share one prototype and differ by the constructor each
   * instance holds, which carries their precision and rounding.)
   */
  decimalClass: DecimalClass;
}

/** A decimal.js class: its settings are static members. */
type DecimalClass = new (text: string) => unknown;

/** The settings decimal.js keeps on a class (`Decimal.set`): two classes with equal code and settings compute alike. */
const DECIMAL_SETTINGS = ["precision", "rounding", "modulo", "toExpNeg", "toExpPos", "minE", "maxE", "crypto"] as const;

/** Whether `candidate` is `prisma` loaded a second time: the same code (another copy of the same runtime) and the same settings. */
function isCopyOf(candidate: DecimalClass, prisma: DecimalClass): boolean {
  const settingsOf = (decimal: DecimalClass) => decimal as unknown as Record<string, unknown>;
  return DECIMAL_SETTINGS.every((setting) => settingsOf(candidate)[setting] === settingsOf(prisma)[setting]) && Function.prototype.toString.call(candidate) === Function.prototype.toString.call(prisma);
}

export interface CodecOptions {
  /**
   * Query results (the default): every value comes back as it went in — the same class, the same
   * keys, `undefined` members included — or is refused (UnencodableValueError), never converted: a
   * computed field holding a Buffer, an app's own decimal.js Decimal, a null-prototype object
   * would otherwise come back from Redis as something else (outside probe 149). False for query
   * arguments (query statistics), where what counts is what Prisma reads of them: it drops
   * `undefined` members and takes any decimal.js Decimal, and so does the codec then.
   */
  exact?: boolean;
}

/** A result that contains a value of a type the codec has no encoding for. */
export class UnencodableValueError extends Error {
  constructor(
    readonly typeName: string,
    message = `cannot encode a value of type ${typeName}`,
  ) {
    super(message);
  }
}

/**
 * The version of the encoding below, part of every entry key (see schemaFingerprint): raise it
 * with any change to what a payload means. 2: Buffers (N) and `undefined` members (V) tagged.
 */
export const ENTRY_FORMAT = 2;

// Special values travel as JSON strings that start with U+0000 and a type letter. A user string
// that itself starts with U+0000 is escaped with the letter S, so no value is ever misread.
const MARK = "\u0000";
const ESCAPED_MARK_IN_JSON = "\\u0000";
/** An `undefined` member or element (exact mode): JSON would drop the key, or write null. */
const UNDEFINED = `${MARK}V`;

/**
 * Exact serialization of query results: Date, Decimal, BigInt, Bytes (Uint8Array), non-finite
 * and negative-zero floats, Json and null all come back as they went in. Plain JSON.parse does
 * the bulk of decoding; the reviving walk only runs when the text holds a special value.
 */
export class Codec {
  readonly #decimal: DecimalHooks | undefined;
  readonly #exact: boolean;
  /** The Decimal class of another copy of Prisma's runtime, once a result held one (see #isResultDecimal). */
  #otherCopy: DecimalClass | undefined;

  constructor(decimal?: DecimalHooks, options: CodecOptions = {}) {
    this.#decimal = decimal;
    this.#exact = options.exact ?? true;
  }

  encode(value: unknown): string {
    try {
      return JSON.stringify(this.#toJson(value));
    } catch (error) {
      // Json nested thousands of levels deep (written outside Prisma, which refuses to send it)
      // runs out of stack, and a result past JavaScript's longest string out of room: the read is
      // served uncached, not failed (outside probe 282: every read of a 3 000-level Json rejected).
      if (error instanceof RangeError) throw new UnencodableValueError("RangeError", `cannot encode the result: ${error.message}`);
      throw error;
    }
  }

  decode(text: string): unknown {
    const parsed: unknown = JSON.parse(text);
    return text.includes(ESCAPED_MARK_IN_JSON) ? this.#revive(parsed) : parsed;
  }

  /** A deep copy, so a caller that mutates a result cannot change what the cache holds. */
  clone<T>(value: T): T {
    try {
      return cloneValue(value) as T;
    } catch (error) {
      // Nested too deeply to copy: then too deeply to encode, so nothing cached holds it, and the
      // loaded value is handed on as it is (reads that shared its load share it).
      if (error instanceof RangeError) return value;
      throw error;
    }
  }

  /** clone() of a value this codec encoded or decoded: faster, as it has nothing encode() refuses. */
  cloneEncoded<T>(value: T): T {
    return copyEncoded(value) as T;
  }

  /** A copier for `value`, to copy it many times while it does not change (see entryCopier). */
  copier(value: unknown): Copier {
    return entryCopier(value);
  }

  #toJson(value: unknown): unknown {
    switch (typeof value) {
      case "string":
        return value.charCodeAt(0) === 0 ? `${MARK}S${value}` : value;
      case "number":
        if (Number.isFinite(value) && !Object.is(value, -0)) return value;
        return `${MARK}F${Object.is(value, -0) ? "-0" : String(value)}`;
      case "bigint":
        return `${MARK}B${value}`;
      case "boolean":
        return value;
      case "object":
        return value === null ? null : this.#objectToJson(value);
      default:
        throw new UnencodableValueError(typeof value);
    }
  }

  #objectToJson(value: object): unknown {
    const proto: unknown = Object.getPrototypeOf(value);
    if (Array.isArray(value)) return this.#arrayToJson(value, proto);
    if (value instanceof Date && (proto === Date.prototype || !this.#exact)) return `${MARK}D${value.getTime()}`;
    if (value instanceof Uint8Array && (proto === Uint8Array.prototype || proto === Buffer.prototype || !this.#exact)) {
      const tag = proto === Buffer.prototype && this.#exact ? "N" : "U";
      return `${MARK}${tag}${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")}`;
    }
    if (this.#decimal !== undefined && (this.#exact ? this.#isResultDecimal(value, proto) : this.#decimal.isDecimal(value))) return `${MARK}M${String(value)}`;
    if (value instanceof NotFoundMarker) return `${MARK}E${JSON.stringify(value.detail)}`;
    if (proto !== Object.prototype && (proto !== null || this.#exact)) throw new UnencodableValueError(proto === null ? "null-prototype object" : this.#decimal?.isDecimal(value) ? "decimal.js Decimal of another class than Prisma's" : (value.constructor?.name ?? "object"));
    if (this.#exact && hasDataSymbols(value)) throw new UnencodableValueError("object with symbol keys");
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) setOwn(out, key, this.#toJson(member));
      else if (this.#exact) setOwn(out, key, UNDEFINED);
    }
    return out;
  }

  /**
   * Prisma's Decimal: the library's own class, or the one class of another copy of Prisma's
   * runtime (the app's generated client resolving another `@prisma/client` than this library: a
   * linked checkout, a monorepo; outside probe 151 — its Decimal columns were never cached), known
   * by the same code and settings. That class is then what decoded Decimals get. Another
   * decimal.js class — a clone of Prisma's, an app's own decimal.js — is not encoded.
   */
  #isResultDecimal(value: object, proto: unknown): boolean {
    // A row, a Json object: no Decimal (the common case, answered without decimal.js's own check).
    if (proto === Object.prototype || proto === null) return false;
    const prisma = this.#decimal!.decimalClass;
    const constructor = (value as { constructor?: unknown }).constructor;
    if (typeof constructor !== "function") return false;
    if (constructor === prisma || constructor === this.#otherCopy) return proto === constructor.prototype;
    if (this.#otherCopy !== undefined || proto !== constructor.prototype || proto === prisma.prototype) return false;
    if (!this.#decimal!.isDecimal(value) || !isCopyOf(constructor as DecimalClass, prisma)) return false;
    this.#otherCopy = constructor as DecimalClass;
    return true;
  }

  #arrayToJson(array: unknown[], proto: unknown): unknown[] {
    if (!this.#exact) return array.map((item) => this.#toJson(item));
    if (proto !== Array.prototype) throw new UnencodableValueError((array as { constructor?: { name?: string } }).constructor?.name ?? "array");
    const out = new Array<unknown>(array.length);
    for (let i = 0; i < array.length; i++) {
      // JSON has no holes: [1, , 3] would come back as [1, null, 3].
      if (!(i in array)) throw new UnencodableValueError("sparse array");
      const item = array[i];
      out[i] = item === undefined ? UNDEFINED : this.#toJson(item);
    }
    return out;
  }

  #revive(value: unknown): unknown {
    if (typeof value === "string") return value.charCodeAt(0) === 0 ? this.#reviveSpecial(value) : value;
    if (typeof value !== "object" || value === null) return value;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) value[i] = this.#revive(value[i]);
      return value;
    }
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) setOwn(record, key, this.#revive(record[key]));
    return record;
  }

  #reviveSpecial(text: string): unknown {
    const body = text.slice(2);
    switch (text.charCodeAt(1)) {
      case 68 /* D */:
        return new Date(Number(body));
      case 77 /* M */:
        if (!this.#decimal) throw new Error("decimal value in cache but no decimal hooks configured");
        return new (this.#otherCopy ?? this.#decimal.decimalClass)(body);
      case 66 /* B */:
        return BigInt(body);
      case 85 /* U */:
        return new Uint8Array(Buffer.from(body, "base64"));
      case 78 /* N */:
        return Buffer.from(body, "base64");
      case 86 /* V */:
        return undefined;
      case 70 /* F */:
        return body === "-0" ? -0 : Number(body);
      case 83 /* S */:
        return body;
      case 69 /* E */:
        return new NotFoundMarker(JSON.parse(body) as NotFoundMarker["detail"]);
      default:
        throw new Error(`corrupt cache entry: unknown type tag ${text.charAt(1)}`);
    }
  }
}
