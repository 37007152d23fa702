import { inject } from "vitest";

/** This test worker's database (example schema): each worker has its own, see test/global-setup.ts. */
export function databaseUrl(): string {
  return ofThisWorker(inject("databaseUrls"));
}

/** This test worker's database of the second test schema. */
export function secondDatabaseUrl(): string {
  return ofThisWorker(inject("secondDatabaseUrls"));
}

function ofThisWorker(urls: readonly string[]): string {
  // Vitest numbers its workers 1 … maxWorkers.
  const worker = Number(process.env.VITEST_POOL_ID ?? "1");
  const url = urls[worker - 1];
  if (url === undefined) throw new Error(`no test database for worker ${worker}: the global setup created ${urls.length} (one per worker of maxWorkers)`);
  return url;
}
