import type { BloomWrites } from "../guard/bloom-writes.js";
import { modelGeneration, recordGeneration, userTag } from "../invalidation/dependencies.js";
import type { ModelGraph } from "../invalidation/model-graph.js";
import { mayCreateIdentities, writeEffects } from "../invalidation/write-effects.js";

/**
 * The version names each kind of write bumps: model writes (from their arguments and result),
 * raw statements and explicit invalidations — plus Bloom suspensions where a write may have
 * created identities the filters never saw.
 */
export class WriteNames {
  readonly #graph: ModelGraph;
  readonly #bloom: BloomWrites;
  readonly #shadowed: readonly string[];
  readonly #models: ReadonlySet<string>;
  /** ofAbandoned() per set of models (few: the sets a write names). */
  readonly #abandoned = new Map<string, readonly string[]>();

  /**
   * `shadowed`: models one of whose identity fields a result extension applied before the cache
   * computes (a masked email): a write's result then spells that field as computed, not as
   * stored, and the record's identity under it cannot be read from the result.
   */
  constructor(graph: ModelGraph, bloom: BloomWrites, shadowed: readonly string[] = []) {
    this.#graph = graph;
    this.#bloom = bloom;
    this.#shadowed = shadowed;
    this.#models = new Set(graph.modelNames);
  }

  ofWrite(model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown): Set<string> {
    const names = this.#unshadowed(writeEffects(this.#graph, model, operation, args, result));
    // Deletes create nothing: they never make a Bloom filter miss a record.
    if (operation === "delete" || operation === "deleteMany") return names;
    for (const name of this.#bloom.suspensions(names)) names.add(name);
    return names;
  }

  /**
   * What a write is announced with before it runs: the names computable from its arguments (the
   * identities its `where` and `data` name, model generations). Names only its result reveals
   * (a generated id, another unique key of an updated row) are bumped when it is confirmed.
   */
  announcedByWrite(model: string, operation: string, args: Record<string, unknown> | undefined): Set<string> {
    return this.#unshadowed(writeEffects(this.#graph, model, operation, args, knownRecordFields(operation, args), "skip"));
  }

  /**
   * A written record of a shadowed model may be read by an identity its result does not show:
   * every unique read of that model is invalidated instead (announced too, so a writer stopped
   * before its confirmation leaves a mark on them).
   */
  #unshadowed(names: Set<string>): Set<string> {
    for (const shadowed of this.#shadowed) if (names.has(modelGeneration(shadowed))) names.add(recordGeneration(shadowed));
    return names;
  }

  /**
   * A write that may or may not have committed (see write-outcome.ts): what its result would
   * have revealed — a generated id, another unique key of a row it changed, identities it created —
   * is unknown, so every model its announcement names is invalidated as raw SQL on it would be
   * (every unique read, the Bloom guard suspended), besides what was announced.
   */
  ofUnresolved(announced: Iterable<string>): Set<string> {
    const names = new Set(announced);
    for (const name of this.ofAbandoned(names)) names.add(name);
    return names;
  }

  /**
   * What a write is swept with if its writer vanishes between its announcement and its
   * confirmation (see Versions.sweep): everything of the models its announcement names, as for
   * a write of unknown outcome — the announced names themselves stay marked. Computed for every
   * write, so kept per set of models.
   */
  ofAbandoned(announced: Iterable<string>): readonly string[] {
    const models: string[] = [];
    for (const name of announced) if (name.startsWith(GENERATION) && this.#models.has(name.slice(GENERATION.length))) models.push(name.slice(GENERATION.length));
    const key = models.sort().join("\n");
    let names = this.#abandoned.get(key);
    if (names === undefined) {
      names = models.length === 0 ? [] : this.ofModels(models);
      if (this.#abandoned.size < 1_000) this.#abandoned.set(key, names);
    }
    return names;
  }

  /** Whether the write may create record identities: only then does its bump add to the Bloom filters (the fleet's, guarded here or not). */
  addsIdentities(model: string, operation: string, args: Record<string, unknown> | undefined): boolean {
    return mayCreateIdentities(this.#graph, model, operation, args);
  }

  /** Everything about the models (all of them unless named): what raw SQL and `invalidate({ models })` bump. */
  ofModels(models: readonly string[] = this.#graph.modelNames): string[] {
    const names = models.flatMap((model) => [modelGeneration(model), recordGeneration(model)]);
    return [...names, ...this.#bloom.suspensions(names)];
  }

  /**
   * Rows of `models` changed in ways the cache cannot see (a raw statement that named them, a write
   * outside the cache): their names, and those of every model the database changes in turn through
   * referential actions — a raw `UPDATE` of a key that posts reference with `onUpdate: Cascade`
   * rewrites posts too. All models when none are named. `truncates`: the statement may truncate
   * (`TRUNCATE … CASCADE` empties every referencing table, whatever its actions).
   */
  ofChangedModels(models: readonly string[] | undefined, truncates = false): string[] {
    if (models === undefined) return this.ofModels();
    const changed = new Set(models);
    for (const model of models) {
      for (const dependent of this.#graph.dependents(model, { kind: "delete" })) changed.add(dependent);
      for (const dependent of this.#graph.dependents(model, { kind: "update" })) changed.add(dependent);
      if (truncates) for (const referrer of this.#graph.referrers(model)) changed.add(referrer);
    }
    return this.ofModels([...changed]);
  }

  ofTags(tags: readonly string[]): string[] {
    return tags.map(userTag);
  }
}

const GENERATION = modelGeneration("");

/** The record a write's arguments already describe: its unique `where` and the scalar data it writes. */
function knownRecordFields(operation: string, args: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const plain = (value: unknown) => (typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {});
  if (operation === "create") return plain(args?.data);
  if (operation === "upsert") return { ...plain(args?.create), ...plain(args?.where) };
  if (operation === "update" || operation === "delete") return { ...plain(args?.where), ...(operation === "update" ? plain(args?.data) : {}) };
  return undefined;
}
