import type { TestProject } from "vitest/node";
import { applyMigrations, createDatabase, dropDatabase, SECOND_MIGRATIONS_DIR } from "../scripts/migrations.ts";
import { resolveServices } from "./helpers/services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    /** A database of the second test schema (test/schemas/second). */
    secondDatabaseUrl: string;
    redisUrl: string;
  }
}

/**
 * One fresh database per test run, migrated from prisma/migrations, and one of the second test
 * schema (test/schemas/second/prisma/migrations); both dropped at the end.
 */
export default async function setup(project: TestProject) {
  const services = await resolveServices();
  const name = `pcs_test_${process.pid}_${Date.now()}`;
  const databaseUrl = await createDatabase(services.postgresAdminUrl, name);
  await applyMigrations(databaseUrl);
  const secondName = `${name}_second`;
  const secondDatabaseUrl = await createDatabase(services.postgresAdminUrl, secondName);
  await applyMigrations(secondDatabaseUrl, SECOND_MIGRATIONS_DIR);
  project.provide("databaseUrl", databaseUrl);
  project.provide("secondDatabaseUrl", secondDatabaseUrl);
  project.provide("redisUrl", services.redisUrl);
  return async () => {
    await dropDatabase(services.postgresAdminUrl, name);
    await dropDatabase(services.postgresAdminUrl, secondName);
    await services.stop();
  };
}
