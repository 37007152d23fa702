import { sha256 } from "../key/hash.js";
import type { ModelGraph } from "../invalidation/model-graph.js";
import type { BloomGroup } from "../invalidation/versions.js";

/** The version a model's filters are built at: a write that may have created unknown identities bumps it (a suspension). */
export const bloomVersion = (model: string) => `b:${model}`;

/**
 * The Redis keys of a model's shared filter, under `prefix` (the namespace and the client's
 * database), for the model's identities as `graph` names them: instances of schemas that name
 * them differently (a renamed or new unique field, during a rolling deploy) keep separate filters,
 * since each holds the identities by the names its own reads look up.
 */
export function bloomKeysOf(prefix: string, graph: ModelGraph, model: string) {
  const base = `${prefix}:bloom:${model}:${identitySignature(graph, model)}`;
  const keys = { liveMeta: base, liveBits: `${base}:bits`, nextMeta: `${base}:next`, nextBits: `${base}:next:bits`, scannedBits: `${base}:scanned`, lock: `${base}:lock` };
  return { ...keys, bump: [keys.liveMeta, keys.liveBits, keys.nextMeta, keys.nextBits] as const };
}

/** Per schema graph and model, a short hash of its identities (computed once: writes that create records ask for it). */
const SIGNATURES = new WeakMap<ModelGraph, Map<string, string>>();

function identitySignature(graph: ModelGraph, model: string): string {
  let byModel = SIGNATURES.get(graph);
  if (byModel === undefined) SIGNATURES.set(graph, (byModel = new Map()));
  let signature = byModel.get(model);
  if (signature === undefined) {
    const identities = (graph.model(model)?.identities ?? []).map(({ key, fields, kinds }) => [key, fields, kinds ?? []]);
    signature = sha256(JSON.stringify(identities)).slice(0, 10);
    byModel.set(model, signature);
  }
  return signature;
}

/**
 * What every instance's writes owe the fleet's Bloom filters, whether it guards the model or not:
 * instances sharing a namespace may guard different models (a rolling deploy turning `bloom` on,
 * services caching different models), and a filter that missed an identity another instance
 * created would answer "absent" for a row that exists. So a write adds the identities it created
 * to the shared filter of every model that has identities (Redis skips models nobody built a
 * filter for), and suspends it where it may have created identities it cannot name.
 */
export class BloomWrites {
  readonly #graph: ModelGraph;
  /** Undefined without Redis: there is no shared filter, and this instance's own guard learns from its writes. */
  readonly #prefix: string | undefined;

  constructor(graph: ModelGraph, prefix: string | undefined) {
    this.#graph = graph;
    this.#prefix = prefix;
  }

  /** Suspensions for the models whose record generation a write bumps (it may have created or re-keyed records it cannot name). */
  suspensions(names: Iterable<string>): string[] {
    const out: string[] = [];
    for (const name of names) {
      if (name.startsWith("r:") && this.#hasIdentities(name.slice(2))) out.push(bloomVersion(name.slice(2)));
    }
    return out;
  }

  /** The Bloom additions a bump carries to Redis: the identity tags among its names, by model. */
  groups(names: readonly string[]): BloomGroup[] {
    if (this.#prefix === undefined) return [];
    const byModel = new Map<string, string[]>();
    for (const name of names) {
      if (!name.startsWith("t:")) continue;
      const model = name.slice(2, name.indexOf(":", 2));
      if (!this.#hasIdentities(model)) continue;
      byModel.set(model, [...(byModel.get(model) ?? []), name]);
    }
    return [...byModel].map(([model, items]) => ({ keys: bloomKeysOf(this.#prefix!, this.#graph, model).bump, items }));
  }

  #hasIdentities(model: string): boolean {
    return (this.#graph.model(model)?.identities.length ?? 0) > 0;
  }
}
