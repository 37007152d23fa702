import { modelGeneration } from "./dependencies.js";

/** The model a version name belongs to (`g:User`, `r:User`, `t:User:id=[1]`), or undefined for user tags. */
function modelOf(name: string): string | undefined {
  if (!(name.startsWith("g:") || name.startsWith("r:") || name.startsWith("t:"))) return undefined;
  const end = name.indexOf(":", 2);
  return name.slice(2, end === -1 ? undefined : end);
}

/**
 * Dependencies learned from the queries that actually ran. Another extension's query hook may
 * rewrite a read (a soft-delete filter, a visibility condition on a relation) so that it reaches
 * models its caller's arguments do not name. A load that reached beyond the dependencies whose
 * versions were captured before it cannot be stored safely (a write to the extra model during the
 * load would go unnoticed); it is served but not stored, and the extra models are learned for the
 * model and operation, so the next load of any such read captures them first and is stored.
 * Bounded: at most one set of model generations per model and operation.
 */
export class LearnedDependencies {
  readonly #extra = new Map<string, Set<string>>();
  #generation = 0;

  /** Moves on whenever something is learned: dependencies computed before then may lack it. */
  get generation(): number {
    return this.#generation;
  }

  /** `deps` plus what earlier loads of this model and operation taught. */
  withLearned(model: string, operation: string, deps: string[]): string[] {
    const extra = this.#extra.get(`${model}.${operation}`);
    if (extra === undefined) return deps;
    const all = new Set(deps);
    for (const name of extra) all.add(name);
    return [...all];
  }

  /**
   * Whether `ran` (the dependencies of the query that ran) is covered by `deps` (those captured
   * before it ran); when not, learns what was missing and answers false. A model generation covers
   * that model's record generation and identity tags, since every write of the model bumps it.
   */
  covers(model: string, operation: string, deps: readonly string[], ran: readonly string[]): boolean {
    const captured = new Set(deps);
    let missing: Set<string> | undefined;
    for (const name of ran) {
      if (captured.has(name)) continue;
      const owner = modelOf(name);
      if (owner !== undefined && captured.has(modelGeneration(owner))) continue;
      missing ??= new Set();
      missing.add(owner === undefined ? name : modelGeneration(owner));
    }
    if (missing === undefined) return true;
    const key = `${model}.${operation}`;
    const extra = this.#extra.get(key) ?? new Set<string>();
    for (const name of missing) if (!name.startsWith("u:")) extra.add(name);
    // The read's own model generation too: the learned reads reach several models, so they are no longer pinned to one record.
    extra.add(modelGeneration(model));
    this.#extra.set(key, extra);
    this.#generation++;
    return false;
  }
}
