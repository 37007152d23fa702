import type { Identity } from "../invalidation/model-graph.js";

const PAGE_SIZE = 1_000;

type Delegate = Record<string, ((args: unknown) => PromiseLike<unknown>) | undefined>;

/**
 * A model's rows in primary-key order, `PAGE_SIZE` at a time, with cursor pagination: only the
 * identity fields are read and only one page is ever held, whatever the table's size.
 */
export async function* scanPages(delegate: Delegate, primary: Identity, fields: readonly string[]): AsyncGenerator<Array<Record<string, unknown>>> {
  const select = Object.fromEntries(fields.map((field) => [field, true]));
  const orderBy = primary.fields.map((field) => ({ [field]: "asc" }));
  let cursor: Record<string, unknown> | undefined;
  for (;;) {
    const page = (await delegate.findMany!({ select, orderBy, take: PAGE_SIZE, ...(cursor === undefined ? {} : { cursor, skip: 1 }) })) as Array<Record<string, unknown>>;
    if (page.length > 0) yield page;
    if (page.length < PAGE_SIZE) return;
    const last = page[page.length - 1]!;
    cursor = { [primary.key]: primary.fields.length === 1 ? last[primary.fields[0]!] : Object.fromEntries(primary.fields.map((field) => [field, last[field]])) };
  }
}
