import { availableParallelism } from "node:os";
import type { TestProject } from "vitest/node";
import { applyMigrations, createDatabase, dropDatabase, SECOND_MIGRATIONS_DIR } from "../scripts/migrations.ts";
import { resolveServices } from "./helpers/services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** One database per test worker (see test/helpers/databases.ts), migrated from prisma/migrations. */
    databaseUrls: string[];
    /** One database of the second test schema (test/schemas/second) per test worker. */
    secondDatabaseUrls: string[];
    redisUrl: string;
  }
}

/**
 * Fresh databases for each test worker, of both schemas, dropped at the end: with more than one
 * worker (`TEST_WORKERS`, 2 by default), a file that counts or lists a whole table must not see another file's rows.
 */
export default async function setup(project: TestProject) {
  const services = await resolveServices();
  const workers = Math.max(1, project.config.maxWorkers ?? availableParallelism());
  const run = `pcs_test_${process.pid}_${Date.now()}_${project.name.replace(/\W/g, "")}`;
  const names = Array.from({ length: workers }, (_, i) => `${run}_w${i + 1}`);
  const create = async (name: string, migrations?: string) => {
    const url = await createDatabase(services.postgresAdminUrl, name);
    await applyMigrations(url, migrations);
    return url;
  };
  project.provide("databaseUrls", await Promise.all(names.map((name) => create(name))));
  project.provide("secondDatabaseUrls", await Promise.all(names.map((name) => create(`${name}_second`, SECOND_MIGRATIONS_DIR))));
  project.provide("redisUrl", services.redisUrl);
  return async () => {
    await Promise.all(names.flatMap((name) => [dropDatabase(services.postgresAdminUrl, name), dropDatabase(services.postgresAdminUrl, `${name}_second`)]));
    await services.stop();
  };
}
