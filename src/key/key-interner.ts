/** How many keys are kept before the interner starts over. */
const MAX_INTERNED = 10_000;
/** Longer string values are not interned: the interner would keep every one of them (an outside probe: 1 MB per distinct read of a 1 MB filter). */
const MAX_INTERNED_LENGTH = 256;

/**
 * The keys of the dominant read, `{ where: { <field>: <number or string> } }`, kept per model,
 * operation, field and value as the same string objects. A key built anew is a fresh string:
 * the popularity count, the hot-key check and the L1 lookup after it each hash it (and the first
 * flattens it), which was a fifth of an L1 hit; V8 keeps a string's hash in the string, so an
 * interned key is hashed once. Model, operation and field names are property names (V8 interns
 * those), so finding a key is four Map lookups without hashing anything long. Bounded: emptied
 * when full, a cost of one key derivation per key; values longer than MAX_INTERNED_LENGTH are
 * not kept at all.
 */
export class KeyInterner {
  readonly #byModel = new Map<string, Map<string, Map<string, Map<number | string, string>>>>();
  #size = 0;

  get(model: string, operation: string, field: string, value: number | string): string | undefined {
    return this.#byModel.get(model)?.get(operation)?.get(field)?.get(value);
  }

  set(model: string, operation: string, field: string, value: number | string, key: string): void {
    // -0 and 0 are one Map key but two cache keys ("n-0", "n0"): -0 is never interned.
    if (Object.is(value, -0) || (typeof value === "string" && value.length > MAX_INTERNED_LENGTH)) return;
    if (this.#size >= MAX_INTERNED) {
      this.#byModel.clear();
      this.#size = 0;
    }
    let byOperation = this.#byModel.get(model);
    if (byOperation === undefined) this.#byModel.set(model, (byOperation = new Map()));
    let byField = byOperation.get(operation);
    if (byField === undefined) byOperation.set(operation, (byField = new Map()));
    let byValue = byField.get(field);
    if (byValue === undefined) byField.set(field, (byValue = new Map()));
    if (!byValue.has(value)) this.#size++;
    byValue.set(value, key);
  }
}
