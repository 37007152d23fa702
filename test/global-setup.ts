import type { TestProject } from "vitest/node";
import { applyMigrations, createDatabase, dropDatabase } from "../scripts/migrations.ts";
import { resolveServices } from "./helpers/services.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    redisUrl: string;
  }
}

/** One fresh database per test run, migrated from prisma/migrations, dropped at the end. */
export default async function setup(project: TestProject) {
  const services = await resolveServices();
  const name = `pcs_test_${process.pid}_${Date.now()}`;
  const databaseUrl = await createDatabase(services.postgresAdminUrl, name);
  await applyMigrations(databaseUrl);
  project.provide("databaseUrl", databaseUrl);
  project.provide("redisUrl", services.redisUrl);
  return async () => {
    await dropDatabase(services.postgresAdminUrl, name);
    await services.stop();
  };
}
