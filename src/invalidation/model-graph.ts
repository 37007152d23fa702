/** A set of fields that identifies one record: `@id`, `@unique`, `@@id` or `@@unique`. */
export interface Identity {
  /** The key Prisma's unique where input uses: the field name, or the compound name (`authorId_slug`). */
  key: string;
  fields: readonly string[];
}

export interface ModelInfo {
  /** Relation field → related model. */
  relations: ReadonlyMap<string, string>;
  /** Relation field → the scalar foreign-key fields it sets on this model (empty when the key is on the other side). */
  foreignKeys: ReadonlyMap<string, readonly string[]>;
  identities: readonly Identity[];
}

/**
 * What the invalidation logic knows of the schema, free of Prisma: models, their relations,
 * their identities, and which models hold foreign keys to which (for cascades).
 */
export class ModelGraph {
  readonly #models: ReadonlyMap<string, ModelInfo>;
  readonly #referencedBy = new Map<string, string[]>();

  constructor(models: ReadonlyMap<string, ModelInfo>) {
    this.#models = models;
    for (const [name, info] of models) {
      for (const [field, target] of info.relations) {
        if ((info.foreignKeys.get(field)?.length ?? 0) === 0) continue;
        const holders = this.#referencedBy.get(target) ?? [];
        if (!holders.includes(name)) holders.push(name);
        this.#referencedBy.set(target, holders);
      }
    }
  }

  get modelNames(): string[] {
    return [...this.#models.keys()];
  }

  model(name: string): ModelInfo | undefined {
    return this.#models.get(name);
  }

  /**
   * Every model whose rows a delete or key change of `model` can change through referential
   * actions (cascade, set null), transitively. Conservative: any foreign key counts.
   */
  dependents(model: string): string[] {
    const seen = new Set<string>();
    const queue = [model];
    while (queue.length > 0) {
      for (const holder of this.#referencedBy.get(queue.pop()!) ?? []) {
        if (seen.has(holder) || holder === model) continue;
        seen.add(holder);
        queue.push(holder);
      }
    }
    return [...seen];
  }
}
