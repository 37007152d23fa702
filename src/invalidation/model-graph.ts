import type { IdentityValueKind } from "./identity-values.js";

/** A set of fields that identifies one record: `@id`, `@unique`, `@@id` or `@@unique`. */
export interface Identity {
  /** The key Prisma's unique where input uses: the field name, or the compound name (`authorId_slug`). */
  key: string;
  fields: readonly string[];
  /** How each field's values compare in the database (aligned with `fields`); `plain` when absent. */
  kinds?: readonly IdentityValueKind[];
}

export type ReferentialAction = "Cascade" | "SetNull" | "SetDefault" | "Restrict" | "NoAction";

/** A foreign key held by a relation field: what it references and what the database does on changes. */
export interface ForeignKeyActions {
  /** The referenced fields of the related model. */
  references: readonly string[];
  onDelete: ReferentialAction;
  onUpdate: ReferentialAction;
}

export interface ModelInfo {
  /** Relation field → related model. */
  relations: ReadonlyMap<string, string>;
  /** Relation field → the scalar foreign-key fields it sets on this model (empty when the key is on the other side). */
  foreignKeys: ReadonlyMap<string, readonly string[]>;
  /** Relation field → its referential actions; a foreign key absent here is assumed to cascade both ways. */
  actions?: ReadonlyMap<string, ForeignKeyActions>;
  identities: readonly Identity[];
  /** A `view` block: its rows change when the models it reads change, never through its own writes. */
  isView?: boolean;
  /**
   * Identity fields the database or Prisma may rewrite on any update of the row, named in its
   * data or not (a generated column, `@updatedAt`): every update may then re-key the record.
   */
  rewrittenOnUpdate?: readonly string[];
  /** Scalar and enum field → how its values compare in the database; absent without the schema text. */
  fieldKinds?: ReadonlyMap<string, IdentityValueKind>;
}

/** A change whose referential actions the database applies: a delete, or a key update of some fields (all when undefined). */
export type RowChange = { kind: "delete" } | { kind: "update"; fields?: readonly string[] };

interface Reference {
  holder: string;
  /** The holder's foreign-key fields. */
  fields: readonly string[];
  actions: ForeignKeyActions;
}

const CONSERVATIVE: ForeignKeyActions = { references: [], onDelete: "Cascade", onUpdate: "Cascade" };

/**
 * What the invalidation logic knows of the schema, free of Prisma: models, their relations,
 * their identities, which models hold foreign keys to which (for referential actions, self-
 * references and cycles included), and what views and declared models read.
 */
export class ModelGraph {
  readonly #models: ReadonlyMap<string, ModelInfo>;
  readonly #referencedBy = new Map<string, Reference[]>();
  readonly #dependsOn = new Map<string, readonly string[]>();
  readonly #identityFields = new Map<string, ReadonlySet<string>>();

  constructor(models: ReadonlyMap<string, ModelInfo>) {
    this.#models = models;
    for (const [name, info] of models) {
      for (const [field, target] of info.relations) {
        const fields = info.foreignKeys.get(field) ?? [];
        if (fields.length === 0) continue;
        const references = this.#referencedBy.get(target) ?? [];
        references.push({ holder: name, fields, actions: info.actions?.get(field) ?? CONSERVATIVE });
        this.#referencedBy.set(target, references);
      }
    }
  }

  get modelNames(): string[] {
    return [...this.#models.keys()];
  }

  model(name: string): ModelInfo | undefined {
    return this.#models.get(name);
  }

  /** Every field of any identity of `model` (asked once per write: kept). */
  identityFields(model: string): ReadonlySet<string> | undefined {
    let fields = this.#identityFields.get(model);
    if (fields === undefined) {
      const info = this.#models.get(model);
      if (info === undefined) return undefined;
      fields = new Set(info.identities.flatMap((identity) => identity.fields));
      this.#identityFields.set(model, fields);
    }
    return fields;
  }

  /** Declares the models whose writes change what `model` reads (a view's underlying tables). */
  declareDependsOn(model: string, models: readonly string[]): void {
    this.#dependsOn.set(model, [...models]);
  }

  /** Whether `model` was declared to depend on models (`dependsOn`, itself included: a trigger changing other rows of its own table). */
  declaresDependencies(model: string): boolean {
    return (this.#dependsOn.get(model)?.length ?? 0) > 0;
  }

  /**
   * The models whose writes change what reads of `model` return: the model itself, plus what it
   * was declared to depend on (transitively). A view without a declaration depends on every table.
   */
  readSources(model: string): string[] {
    const sources = new Set<string>();
    const queue = [model];
    while (queue.length > 0) {
      const next = queue.pop()!;
      if (sources.has(next)) continue;
      sources.add(next);
      const declared = this.#dependsOn.get(next);
      if (declared !== undefined) queue.push(...declared);
      else if (this.#models.get(next)?.isView === true) queue.push(...this.modelNames.filter((name) => this.#models.get(name)?.isView !== true));
    }
    return [...sources];
  }

  /**
   * Every model whose rows the database changes through referential actions (cascade, set null,
   * set default) when rows of `model` change, transitively: self-references and cycles included.
   * Restrict and NoAction change nothing (the write fails instead).
   */
  dependents(model: string, change: RowChange = { kind: "delete" }): string[] {
    const changed = new Set<string>();
    const visited = new Set<string>();
    const queue: Array<{ model: string; change: RowChange }> = [{ model, change }];
    while (queue.length > 0) {
      const next = queue.pop()!;
      const id = `${next.model}|${next.change.kind}|${next.change.kind === "update" ? (next.change.fields?.join() ?? "*") : ""}`;
      if (visited.has(id)) continue;
      visited.add(id);
      for (const reference of this.#referencedBy.get(next.model) ?? []) {
        const followUp = consequence(reference, next.change);
        if (followUp === undefined) continue;
        changed.add(reference.holder);
        queue.push({ model: reference.holder, change: followUp });
      }
    }
    return [...changed];
  }

  /**
   * Every model holding a foreign key to `model`, transitively, whatever its referential actions:
   * what `TRUNCATE … CASCADE` empties with it (PostgreSQL follows every foreign key there,
   * Restrict and NoAction ones too).
   */
  referrers(model: string): string[] {
    const found = new Set<string>();
    const queue = [model];
    while (queue.length > 0) {
      for (const { holder } of this.#referencedBy.get(queue.pop()!) ?? []) {
        if (found.has(holder)) continue;
        found.add(holder);
        queue.push(holder);
      }
    }
    return [...found];
  }
}

/** What a referencing model's rows undergo when the referenced rows change, if anything. */
function consequence(reference: Reference, change: RowChange): RowChange | undefined {
  if (change.kind === "update" && change.fields !== undefined && reference.actions.references.length > 0) {
    if (!reference.actions.references.some((field) => change.fields!.includes(field))) return undefined;
  }
  const action = change.kind === "delete" ? reference.actions.onDelete : reference.actions.onUpdate;
  if (action === "Restrict" || action === "NoAction") return undefined;
  if (action === "Cascade" && change.kind === "delete") return { kind: "delete" };
  // Cascade on update, SetNull and SetDefault rewrite the holder's foreign-key fields.
  return { kind: "update", fields: reference.fields };
}
