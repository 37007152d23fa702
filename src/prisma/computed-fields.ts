import type { PrismaSchema } from "./data-model.js";

/** Prisma's extension chain (internal): the computed fields of the result extensions applied so far. */
interface ClientWithExtensions {
  _extensions?: { getAllComputedFields?(model: string): Record<string, unknown> | undefined };
}

/**
 * Models one of whose identity fields (`@id`, `@unique`, compound keys) a result extension applied
 * before the cache computes — `email: { needs: { email: true }, compute: mask }`. A write's result
 * then holds the computed value, so the identity a reader used cannot be told from it. Read once,
 * when the extension meets the client: extensions applied later are above the cache (see README).
 */
export function modelsWithComputedIdentities(client: unknown, schema: PrismaSchema): string[] {
  const extensions = (client as ClientWithExtensions)._extensions;
  if (typeof extensions?.getAllComputedFields !== "function") return [];
  const shadowed: string[] = [];
  for (const model of schema.graph.modelNames) {
    const computed = extensions.getAllComputedFields(schema.delegateKeys.get(model) ?? model) ?? {};
    const identityFields = schema.graph.identityFields(model);
    if (Object.keys(computed).some((field) => identityFields?.has(field))) shadowed.push(model);
  }
  return shadowed;
}
