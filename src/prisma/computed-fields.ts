import { CacheConfigError } from "../errors.js";
import type { ResolvedOptions } from "../options.js";
import type { PrismaSchema } from "./data-model.js";

/** Prisma's extension chain (internal): the computed fields of the result extensions applied so far. */
interface ClientWithExtensions {
  _extensions?: { getAllComputedFields?(model: string): Record<string, unknown> | undefined };
}

/**
 * Models one of whose identity fields (`@id`, `@unique`, compound keys) a result extension applied
 * before the cache computes — `email: { needs: { email: true }, compute: mask }` — with those
 * fields. A write's result then holds the computed value, so the identity a reader used cannot be
 * told from it. Read once, when the extension meets the client: extensions applied later are above
 * the cache (see README).
 */
export function modelsWithComputedIdentities(client: unknown, schema: PrismaSchema): Map<string, string[]> {
  const shadowed = new Map<string, string[]>();
  const extensions = (client as ClientWithExtensions)._extensions;
  if (typeof extensions?.getAllComputedFields !== "function") return shadowed;
  for (const model of schema.graph.modelNames) {
    const computed = extensions.getAllComputedFields(schema.delegateKeys.get(model) ?? model) ?? {};
    const identityFields = schema.graph.identityFields(model);
    const fields = Object.keys(computed).filter((field) => identityFields?.has(field));
    if (fields.length > 0) shadowed.set(model, fields);
  }
  return shadowed;
}

/**
 * The Bloom guard learns a model's identities from what writes return: over a computed identity
 * field it would learn the computed values and answer "absent" for stored ones (a hashed id read
 * by its number). So such a model cannot have `bloom`.
 */
export function refuseBloomOverComputedIdentities(options: ResolvedOptions, shadowed: ReadonlyMap<string, readonly string[]>): void {
  for (const [model, fields] of shadowed) {
    if (options.models.get(model)?.bloom === undefined) continue;
    const spelled = fields.map((field) => `\`${field}\``).join(", ");
    throw new CacheConfigError(`models.${model}.bloom`, `a result extension applied before the cache computes ${spelled}, a unique field of ${model}: the Bloom guard would learn the computed values, not the stored ones, and answer "absent" for records that exist. Remove \`bloom\` for ${model}.`);
  }
}
