import { CacheConfigError } from "../errors.js";
import type { ModelGraph } from "../invalidation/model-graph.js";
import type { ReadPolicy } from "../options.js";

/**
 * Checks each model's `dependsOn` against the schema and records it in the graph. A view's rows
 * change when its tables do, through no write of its own: a cached view must say which tables
 * it reads, and a Bloom filter (fed by the model's own creates) cannot guard it.
 */
export function declareDependencies(models: ReadonlyMap<string, ReadPolicy>, graph: ModelGraph, uncached: ReadonlyMap<string, readonly string[]> = new Map()): void {
  // A model left out of the cache: what changes its rows is what changes the cached reads that include it (outside probe 195).
  for (const [name, dependsOn] of uncached) {
    checkDependencies(name, dependsOn, graph);
    graph.declareDependsOn(name, dependsOn);
  }
  for (const [name, policy] of models) {
    const option = `models.${name}.dependsOn`;
    const isView = graph.model(name)?.isView === true;
    if (policy.dependsOn === undefined) {
      if (isView) throw new CacheConfigError(option, `"${name}" is a view: its rows change when the models it reads change, so list them (dependsOn: ["…"]) or do not cache it`);
      continue;
    }
    checkDependencies(name, policy.dependsOn, graph);
    if (policy.bloom !== undefined) {
      throw new CacheConfigError(`models.${name}.bloom`, `"${name}" depends on other models (dependsOn): its rows appear without creates of its own, which a Bloom filter would miss`);
    }
    graph.declareDependsOn(name, policy.dependsOn);
  }
}

function checkDependencies(name: string, dependsOn: readonly string[], graph: ModelGraph): void {
  for (const dependency of dependsOn) {
    if (graph.model(dependency) === undefined) {
      throw new CacheConfigError(`models.${name}.dependsOn`, `no model named "${dependency}" in the Prisma schema (models: ${graph.modelNames.join(", ")})`);
    }
  }
}
