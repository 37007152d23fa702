import { identityTag, modelGeneration, recordGeneration, walkRelations, whereIdentityTags } from "./dependencies.js";
import type { ModelGraph, RowChange } from "./model-graph.js";
import { nestedUpdateData } from "./nested-updates.js";
import { argumentView, schemaMember } from "./relation-walk.js";

/** Nested operations that can delete rows or clear foreign keys, reaching further models. */
const REMOVING = ["delete", "deleteMany", "set", "disconnect"];
/** Nested operations that rewrite the related records' foreign key to the parent (or clear it). */
const RELINKING = ["connect", "connectOrCreate", "set", "disconnect"];

/**
 * The version names a committed write must bump: the written model's generation always, the
 * identity tags of the records it touched when they are known, the record generation when they
 * are not, every model a nested write reached, and the models that referential actions reach.
 * With `unknownRecords: "skip"` (a write's announcement, made before its result exists) a record
 * whose identities are not all known adds the tags it has and no record generation.
 */
export function writeEffects(graph: ModelGraph, model: string, operation: string, args: Record<string, unknown> | undefined, result: unknown, unknownRecords: "generation" | "skip" = "generation"): Set<string> {
  const names = new Set<string>([modelGeneration(model)]);
  const data = args?.data;
  const touchModel = (target: string) => {
    names.add(modelGeneration(target));
    names.add(recordGeneration(target));
  };
  const cascade = (from: string, change: RowChange = { kind: "delete" }) => graph.dependents(from, change).forEach(touchModel);
  const pinned = () => {
    for (const tag of whereIdentityTags(graph, model, args?.where)) names.add(tag);
    if (!addRecordTags(graph, model, result, names) && unknownRecords === "generation") names.add(recordGeneration(model));
  };
  const nested = (payload: unknown) =>
    walkRelations(graph, model, payload, (target, member, from) => {
      touchModel(target);
      const operations = argumentView(member);
      const has = (op: string) => typeof operations === "object" && operations !== null && op in operations;
      if (REMOVING.some(has)) cascade(target);
      // Connecting a record rewrites its key to the parent: where that key is part of an identity
      // (a compound primary key), rows referencing it follow through their onUpdate actions.
      if (RELINKING.some(has)) {
        const relinked = keysTowards(graph, target, from).filter((field) => graph.identityFields(target)?.has(field) !== false);
        if (relinked.length > 0) cascade(target, { kind: "update", fields: relinked });
      }
      // A nested update that changes a referenced key fires the holders' onUpdate actions.
      const keyChanges = nestedUpdateData(member).filter((changes) => touchesIdentity(graph, target, changes));
      if (keyChanges.length > 0) cascade(target, { kind: "update", fields: keyChanges.flatMap((changes) => changedFields(graph, target, changes) ?? []) });
    }, 0);

  // Connecting a one-to-one partner through a unique foreign key on this model takes it from the
  // record that held it: Prisma clears that record's key first, and which record it was is unknown.
  const stealing = (payload: unknown) => {
    const fields = relinkedIdentityKeys(graph, model, payload);
    if (fields.length === 0) return;
    names.add(recordGeneration(model));
    cascade(model, { kind: "update", fields });
  };

  switch (operation) {
    case "create":
      stealing(data);
      nested(data);
      if (!addRecordTags(graph, model, result, names) && unknownRecords === "generation") names.add(recordGeneration(model));
      break;
    case "update":
    case "upsert": {
      const changes = operation === "upsert" ? args?.update : data;
      if (operation === "upsert") stealing(args?.create);
      pinned();
      if (touchesIdentity(graph, model, changes)) {
        names.add(recordGeneration(model));
        cascade(model, { kind: "update", fields: changedFields(graph, model, changes) });
      }
      nested(operation === "upsert" ? [args?.create, args?.update] : data);
      break;
    }
    case "delete":
      pinned();
      cascade(model);
      break;
    case "updateMany":
    case "updateManyAndReturn":
      names.add(recordGeneration(model));
      if (touchesIdentity(graph, model, data)) cascade(model, { kind: "update", fields: changedFields(graph, model, data) });
      break;
    case "createMany":
    case "createManyAndReturn":
      names.add(recordGeneration(model));
      break;
    default:
      // deleteMany, and anything unknown: everything about the model and its dependents.
      names.add(recordGeneration(model));
      cascade(model);
  }
  return names;
}

/**
 * The foreign-key fields of `model` that a write's data sets by connecting a record through a
 * one-to-one relation (`connect`, `connectOrCreate`; its key alone is unique): a partner another
 * record of `model` may hold, whose key Prisma then clears. A key that is only part of a compound
 * identity (a join table's) takes nothing from anyone.
 */
function relinkedIdentityKeys(graph: ModelGraph, model: string, payload: unknown): string[] {
  const data = argumentView(payload);
  const info = graph.model(model);
  if (typeof data !== "object" || data === null || info === undefined) return [];
  const fields: string[] = [];
  // for-in, as Prisma reads arguments: a DTO's inherited enumerable properties too.
  for (const key in data) {
    const keys = info.foreignKeys.get(key) ?? [];
    if (keys.length === 0 || !info.identities.some((identity) => identity.fields.every((field) => keys.includes(field)))) continue;
    const operations = argumentView((data as Record<string, unknown>)[key]);
    if (typeof operations === "object" && operations !== null && ("connect" in operations || "connectOrCreate" in operations)) fields.push(...keys);
  }
  return fields;
}

/** The foreign-key fields `model` holds towards `related` (through any of its relations to it). */
function keysTowards(graph: ModelGraph, model: string, related: string): string[] {
  const info = graph.model(model);
  const fields: string[] = [];
  for (const [field, target] of info?.relations ?? []) if (target === related) fields.push(...(info!.foreignKeys.get(field) ?? []));
  return fields;
}

/** Adds the tag of every identity whose fields the record carries; false when one is missing. */
function addRecordTags(graph: ModelGraph, model: string, record: unknown, names: Set<string>): boolean {
  if (typeof record !== "object" || record === null) return false;
  let complete = true;
  for (const identity of graph.model(model)?.identities ?? []) {
    const values = identity.fields.map((field) => schemaMember(record, field));
    // A null unique value identifies nothing; an absent one (narrowed by select) is unknown.
    if (values.some((value) => value === undefined)) complete = false;
    else if (!values.some((value) => value === null)) {
      const tag = identityTag(model, identity, values);
      if (tag !== undefined) names.add(tag);
    }
  }
  return complete;
}

/** The scalar fields a write's data names (a relation field's foreign keys count as its own), and those every update may rewrite. */
function changedFields(graph: ModelGraph, model: string, payload: unknown): string[] | undefined {
  const data = argumentView(payload);
  if (typeof data !== "object" || data === null) return undefined;
  const info = graph.model(model);
  const fields: string[] = [...(info?.rewrittenOnUpdate ?? [])];
  // for-in, as Prisma reads arguments: a DTO's toJSON() result, inherited enumerable properties too.
  for (const key in data) fields.push(...(info?.foreignKeys.get(key) ?? [key]));
  return fields;
}

/**
 * Whether a write may give a record of `model` an identity no Bloom filter holds yet: creates,
 * upserts, updates that change a unique field. Anything else re-bumps identities of existing
 * records (or bumps the record generation, which suspends the filter: bulk and nested creates).
 */
export function mayCreateIdentities(graph: ModelGraph, model: string, operation: string, args: Record<string, unknown> | undefined): boolean {
  if (operation === "create" || operation === "upsert") return true;
  return operation === "update" && touchesIdentity(graph, model, args?.data);
}

/**
 * Whether a write's data changes a field of any identity, directly or through a relation's
 * foreign key — or may, whatever it names: the model has identity fields every update may rewrite.
 */
function touchesIdentity(graph: ModelGraph, model: string, payload: unknown): boolean {
  const data = argumentView(payload);
  if (typeof data !== "object" || data === null) return false;
  const info = graph.model(model);
  const identityFields = graph.identityFields(model);
  if (info === undefined || identityFields === undefined) return true;
  if ((info.rewrittenOnUpdate?.length ?? 0) > 0) return true;
  // for-in: Prisma reads a class instance's inherited enumerable properties too.
  for (const key in data) {
    if (identityFields.has(key)) return true;
    if (info.foreignKeys.get(key)?.some((field) => identityFields.has(field))) return true;
  }
  return false;
}
