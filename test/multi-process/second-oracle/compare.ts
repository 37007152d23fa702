// Running a ReadSpec on a client and comparing what two clients returned.
import { Prisma } from "../../schemas/second/generated/client.ts";
import { DELEGATES } from "./model.ts";
import type { ReadSpec } from "./reads.ts";

/** What a read produced: its value, or the error Prisma raised (by code: P2025 from `*OrThrow`). */
export type Outcome = { value: unknown } | { error: string };

/** `{ $date: iso }` in a spec stands for a Date (specs travel between processes as JSON). */
export function revive(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(revive);
  if (value === null || typeof value !== "object") return value;
  if ("$date" in value) return new Date((value as { $date: string }).$date);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, revive(inner)]));
}

export async function runRead(client: unknown, spec: ReadSpec): Promise<Outcome> {
  const delegate = (client as Record<string, Record<string, (args: unknown) => Record<string, () => Promise<unknown>> & Promise<unknown>>>)[DELEGATES[spec.model]]!;
  try {
    const query = delegate[spec.operation]!(revive(spec.args));
    return { value: await (spec.fluent === undefined ? query : query[spec.fluent]!()) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === "string") return { error: code };
    throw error;
  }
}

/**
 * A comparable form: Dates and Decimals tagged (a string where Prisma gives a Decimal is a
 * difference), object keys sorted, and arrays sorted unless they are a findMany's ordered rows
 * (nested lists without `orderBy` and groupBy groups come in no defined order).
 */
export function canonical(outcome: Outcome, spec: ReadSpec): string {
  if ("error" in outcome) return `error ${outcome.error}`;
  return JSON.stringify(form(outcome.value, spec.operation !== "groupBy"));
}

function form(value: unknown, ordered: boolean): unknown {
  if (typeof value === "bigint") return { $bigint: String(value) };
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? "invalid" : value.toISOString() };
  if (Prisma.Decimal.isDecimal(value)) return { $decimal: (value as Prisma.Decimal).toString() };
  if (Array.isArray(value)) {
    const items = value.map((item) => form(item, false));
    if (ordered) return items;
    const keyed = items.map((item) => [JSON.stringify(item), item] as const);
    return keyed.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item);
  }
  const entries = Object.keys(value)
    .sort()
    .map((key) => [key, form((value as Record<string, unknown>)[key], false)]);
  const proto: unknown = Object.getPrototypeOf(value);
  const fields = Object.fromEntries(entries);
  // A result object whose prototype is not a plain object's (a class, a polluted prototype) differs.
  return proto === Object.prototype || proto === null ? fields : { $proto: String((proto as { constructor?: { name?: string } }).constructor?.name), ...fields };
}

/** The two canonical forms around where they first differ (the whole of short ones). */
export function aroundDifference(a: string, b: string, context = 400): [string, string] {
  let at = 0;
  while (at < a.length && a[at] === b[at]) at++;
  const from = Math.max(0, at - context);
  const cut = (text: string) => `${from > 0 ? "…" : ""}${text.slice(from, at + context)}${text.length > at + context ? "…" : ""}`;
  return [cut(a), cut(b)];
}
