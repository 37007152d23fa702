import { Decimal, isObjectEnumValue, skip } from "@prisma/client/runtime/client";
import type { DecimalHooks } from "../codec/codec.js";
import { isDecimalJsLike } from "../invalidation/relation-walk.js";
import { OMITTED, type SpecialEncoder } from "../key/canonical.js";

const Skip = skip.constructor;

/**
 * Prisma's Decimal, for the codec: the same digits come back as a Prisma Decimal. Results carry
 * Prisma's own class (its columns, aggregates); another decimal.js Decimal there (a computed
 * field's) is not encoded in results, as it would come back as Prisma's.
 */
export const prismaDecimal: DecimalHooks = {
  isDecimal: (value) => Decimal.isDecimal(value),
  decimalClass: Decimal,
};

interface ObjectEnumValue {
  _getName(): string;
  _getNamespace(): string;
}

/** Prisma's field reference (`prisma.user.fields.email`): its class is not exported, its method is its own. */
interface FieldRef {
  modelName: string;
  name: string;
  _toGraphQLInputType(): string;
}

/** Canonical tags for the class instances Prisma accepts in query arguments, recognised as Prisma recognises them. */
export const encodePrismaArgValue: SpecialEncoder = (value) => {
  // Any Decimal, as Prisma reads one (by shape) and sends it (its `toFixed()`).
  if (isDecimalJsLike(value)) return `Decimal:${String(value.toFixed())}`;
  // Prisma drops a member set to `Prisma.skip`, as it drops undefined ones.
  if (value instanceof Skip) return OMITTED;
  if (isObjectEnumValue(value)) {
    const enumValue = value as ObjectEnumValue;
    return `${enumValue._getNamespace()}:${enumValue._getName()}`;
  }
  // Not by its data members alone: a DTO with `name` and `modelName` is sent as its members.
  const ref = value as Partial<FieldRef>;
  if (typeof ref._toGraphQLInputType === "function" && typeof ref.modelName === "string" && typeof ref.name === "string") return `FieldRef:${ref.modelName}.${ref.name}`;
  return undefined;
};
