import { identityTag, modelGeneration, recordGeneration, walkRelations, whereIdentityTags } from "./dependencies.js";
import type { ModelGraph } from "./model-graph.js";

/** Nested operations that can delete rows or clear foreign keys, reaching further models. */
const REMOVING = ["delete", "deleteMany", "set", "disconnect"];

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
  const cascade = (from: string) => graph.dependents(from).forEach(touchModel);
  const pinned = () => {
    for (const tag of whereIdentityTags(graph, model, args?.where)) names.add(tag);
    if (!addRecordTags(graph, model, result, names) && unknownRecords === "generation") names.add(recordGeneration(model));
  };
  const nested = (payload: unknown) =>
    walkRelations(graph, model, payload, (target, member) => {
      touchModel(target);
      if (typeof member === "object" && member !== null && REMOVING.some((op) => op in member)) cascade(target);
    }, 0);

  switch (operation) {
    case "create":
      nested(data);
      if (!addRecordTags(graph, model, result, names) && unknownRecords === "generation") names.add(recordGeneration(model));
      break;
    case "update":
    case "upsert": {
      const changes = operation === "upsert" ? args?.update : data;
      pinned();
      if (touchesIdentity(graph, model, changes)) {
        names.add(recordGeneration(model));
        cascade(model);
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
      if (touchesIdentity(graph, model, data)) cascade(model);
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

/** Adds the tag of every identity whose fields the record carries; false when one is missing. */
function addRecordTags(graph: ModelGraph, model: string, record: unknown, names: Set<string>): boolean {
  if (typeof record !== "object" || record === null) return false;
  let complete = true;
  for (const identity of graph.model(model)?.identities ?? []) {
    const values = identity.fields.map((field) => (record as Record<string, unknown>)[field]);
    // A null unique value identifies nothing; an absent one (narrowed by select) is unknown.
    if (values.some((value) => value === undefined)) complete = false;
    else if (!values.some((value) => value === null)) names.add(identityTag(model, identity, values));
  }
  return complete;
}

/** Whether a write's data changes a field of any identity, directly or through a relation's foreign key. */
function touchesIdentity(graph: ModelGraph, model: string, data: unknown): boolean {
  if (typeof data !== "object" || data === null) return false;
  const info = graph.model(model);
  if (info === undefined) return true;
  const identityFields = new Set(info.identities.flatMap((identity) => identity.fields));
  for (const key of Object.keys(data)) {
    if (identityFields.has(key)) return true;
    if (info.foreignKeys.get(key)?.some((field) => identityFields.has(field))) return true;
  }
  return false;
}
