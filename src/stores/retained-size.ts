/**
 * An upper estimate of the heap a decoded value keeps alive in V8 (64-bit, as Node ships it),
 * computed once when L1 stores it, so `l1.maxBytes` bounds what L1 really holds. The encoded
 * length is no measure of it: `[{},{},…]` is 3 characters per element in JSON and ~60 bytes each
 * on the heap; a small integer is 1–2 characters and a whole pointer slot.
 *
 * Figures measured with `--expose-gc` on Node 20 (test/unit/l1-heap.test.ts checks the bound):
 * an object from JSON.parse is 56 bytes empty and ~8 per property while it has fast
 * properties, ~50 per property in dictionary mode; an array 32 + 8 per element; a string 24 +
 * 1 byte per character (2 if any is beyond Latin-1); a Date 96; a Decimal ~240; a Uint8Array
 * ~210 plus its bytes (off the V8 heap, but memory all the same).
 */
const OBJECT = 64;
const FAST_PROPERTY = 8;
/** V8 turns objects with many properties into dictionaries, whose entries also hold their key. */
const DICTIONARY_THRESHOLD = 64;
const DICTIONARY_PROPERTY = 56;
const ARRAY = 32;
const SLOT = 8;
const STRING = 24;
/** A number that is not a small integer is a separate 16-byte HeapNumber when held by an object. */
const HEAP_NUMBER = 16;
const DATE = 96;
const TYPED_ARRAY = 216;
const CLASS_INSTANCE = 240;
const BIGINT = 24;

const TWO_BYTE = /[^\u0000-\u00ff]/;

export function retainedSize(value: unknown): number {
  switch (typeof value) {
    case "string":
      return stringSize(value);
    case "number":
      return (value | 0) === value ? 0 : HEAP_NUMBER;
    case "bigint":
      return BIGINT + 8 * Math.ceil(value.toString(16).length / 16);
    case "object":
      return value === null ? 0 : objectSize(value);
    default:
      return 0;
  }
}

export function stringSize(text: string): number {
  return STRING + (TWO_BYTE.test(text) ? 2 : 1) * text.length;
}

function objectSize(value: object): number {
  if (Array.isArray(value)) {
    let size = ARRAY + SLOT * value.length;
    for (let i = 0; i < value.length; i++) size += retainedSize(value[i]);
    return size;
  }
  if (value instanceof Date) return DATE;
  if (ArrayBuffer.isView(value)) return TYPED_ARRAY + value.byteLength;
  const proto: unknown = Object.getPrototypeOf(value);
  const keys = Object.keys(value);
  const dictionary = keys.length > DICTIONARY_THRESHOLD;
  let size = proto === Object.prototype || proto === null ? OBJECT : CLASS_INSTANCE;
  for (const key of keys) {
    size += dictionary ? DICTIONARY_PROPERTY + stringSize(key) : FAST_PROPERTY;
    size += retainedSize((value as Record<string, unknown>)[key]);
  }
  return size;
}
