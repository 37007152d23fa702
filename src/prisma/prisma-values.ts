import { Decimal, skip } from "@prisma/client/runtime/client";
import type { DecimalHooks } from "../codec/codec.js";
import { OMITTED, type SpecialEncoder } from "../key/canonical.js";

const Skip = skip.constructor;

/** Prisma's Decimal, for the codec: the same digits come back as a Prisma Decimal. */
export const prismaDecimal: DecimalHooks = {
  isDecimal: (value) => Decimal.isDecimal(value),
  fromString: (text) => new Decimal(text),
};

interface ObjectEnumValue {
  _getName(): string;
  _getNamespace(): string;
}

interface FieldRef {
  modelName: string;
  name: string;
}

/** Canonical tags for the class instances Prisma accepts in query arguments. */
export const encodePrismaArgValue: SpecialEncoder = (value) => {
  if (Decimal.isDecimal(value)) return `Decimal:${String(value)}`;
  // Prisma drops a member set to `Prisma.skip`, as it drops undefined ones.
  if (value instanceof Skip) return OMITTED;
  const enumValue = value as Partial<ObjectEnumValue>;
  if (typeof enumValue._getName === "function" && typeof enumValue._getNamespace === "function") {
    return `${enumValue._getNamespace()}:${enumValue._getName()}`;
  }
  const ref = value as Partial<FieldRef>;
  if (typeof ref.modelName === "string" && typeof ref.name === "string") return `FieldRef:${ref.modelName}.${ref.name}`;
  return undefined;
};
