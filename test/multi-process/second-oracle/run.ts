// Runs the second-schema oracle: seeds rows with plain Prisma, starts the workers (half with L1,
// half reading Redis only) on one namespace, and sums their reports. Used by second-oracle.test.ts
// and by scripts/oracle-second.ts (a run of minutes).
import { randomUUID } from "node:crypto";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import pg from "pg";
import { PrismaClient } from "../../schemas/second/generated/client.ts";
import { startChild } from "../../helpers/child-process.ts";
import { applyMigrations, createDatabase, dropDatabase, SECOND_MIGRATIONS_DIR } from "../../../scripts/migrations.ts";
import type { Difference, WorkerReport } from "../second-oracle-worker.ts";

export interface OracleRun {
  /** Any database on the server: the run creates (and drops) its own database of the second schema next to it. */
  postgresUrl: string;
  redisUrl: string;
  workers: number;
  durationMs: number;
  seed: number;
  env?: Record<string, string>;
}

export interface OracleSummary {
  seed: number;
  workers: number;
  rounds: number;
  reads: number;
  writes: number;
  checks: number;
  shapes: number;
  differences: number;
  samples: Difference[];
  readErrors: number;
  errorSamples: string[];
  ackTimeouts: number;
  l1Hits: number;
  l2Hits: number;
  negativeHits: number;
  writesByOp: Record<string, number>;
  writeErrors: Record<string, number>;
}

export async function runSecondOracle(run: OracleRun): Promise<OracleSummary> {
  const namespace = `o${randomUUID().slice(0, 8)}`;
  const prefix = `second-oracle-${namespace}`;
  const redis = new Redis(run.redisUrl, { maxRetriesPerRequest: 1 });
  // Its own database: the workers update and delete any row they find, so no other test may share it.
  const adminUrl = Object.assign(new URL(run.postgresUrl), { pathname: "/postgres" }).toString();
  const databaseName = `pcs_oracle_${process.pid}_${Date.now()}`;
  const databaseUrl = await createDatabase(adminUrl, databaseName);
  try {
    await applyMigrations(databaseUrl, SECOND_MIGRATIONS_DIR);
    await seed(databaseUrl);
    const env = { DATABASE_URL: databaseUrl, REDIS_URL: run.redisUrl, NAMESPACE: namespace, ORACLE: prefix, WORKERS: String(run.workers), SEED: String(run.seed), END_AT: String(Date.now() + run.durationMs), ...run.env };
    const children = Array.from({ length: run.workers }, (_, worker) => startChild<WorkerReport>("second-oracle-worker.ts", { ...env, WORKER: String(worker), L1: worker % 2 === 0 ? "on" : "off" }, run.durationMs + 120_000));
    const reports = await Promise.all(children.map((child) => child.result)).catch((error: unknown) => {
      for (const child of children) child.kill();
      throw error;
    });
    return summarize(run, reports);
  } finally {
    await removeKeys(redis, [`${prefix}:*`, `{${namespace}}:*`, `${namespace}:*`]);
    redis.disconnect();
    await dropDatabase(adminUrl, databaseName);
  }
}

function summarize(run: OracleRun, reports: WorkerReport[]): OracleSummary {
  const total = (pick: (report: WorkerReport) => number) => reports.reduce((sum, report) => sum + pick(report), 0);
  const merge = (pick: (report: WorkerReport) => Record<string, number>) => {
    const merged: Record<string, number> = {};
    for (const report of reports) for (const [key, count] of Object.entries(pick(report))) merged[key] = (merged[key] ?? 0) + count;
    return merged;
  };
  return {
    seed: run.seed,
    workers: run.workers,
    rounds: Math.max(...reports.map((report) => report.rounds)),
    reads: total((r) => r.reads),
    writes: total((r) => r.writes),
    checks: total((r) => r.checks),
    shapes: new Set(reports.flatMap((r) => r.shapes)).size,
    differences: total((r) => r.differences),
    samples: reports.flatMap((r) => r.samples),
    readErrors: total((r) => r.readErrors),
    errorSamples: reports.flatMap((r) => r.errorSamples),
    ackTimeouts: total((r) => Number(r.stats.invalidationAckTimeouts)),
    l1Hits: total((r) => Number(r.stats.l1Hits)),
    l2Hits: total((r) => Number(r.stats.l2Hits)),
    negativeHits: total((r) => Number(r.stats.negativeHits)),
    writesByOp: merge((r) => r.writesByOp),
    writeErrors: merge((r) => r.writeErrors),
  };
}

/** A starting population: managers and families of people, passports, teams with players and captains, memberships, events. */
async function seed(databaseUrl: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const base = new PrismaClient({ adapter: new PrismaPg(pool) });
  try {
    const people: string[] = [];
    for (let i = 0; i < 8; i++) {
      const t = randomUUID().slice(0, 6);
      const person = await base.person.create({
        data: { code: `S${t}`, email: `${t}@Seed.test`, name: `Person seed ${i}`, active: i % 4 !== 0, managerId: people[i % 3 === 0 ? 0 : i - 1] ?? null, parentId: i % 5 === 4 ? (people[i - 2] ?? null) : null, ...(i % 2 === 0 ? { passport: { create: { number: `N${t}` } } } : {}) },
      });
      people.push(person.id);
    }
    for (let i = 0; i < 3; i++) {
      const team = await base.team.create({ data: { name: `team seed ${randomUUID().slice(0, 6)}`, players: { create: [{ name: "p seed a" }, { name: "p seed b" }, { name: "p seed c" }] } }, include: { players: true } });
      // The cycle: the captain is a player of the previous team.
      const captain = i === 0 ? team.players[0]! : (await base.player.findFirst({ where: { teamId: team.id - 1 } }))!;
      await base.team.update({ where: { id: team.id }, data: { captainId: captain.id } }).catch(() => undefined);
      for (const personId of people.slice(i * 3, i * 3 + 4)) await base.membership.create({ data: { personId, teamId: team.id, role: i % 2 === 0 ? "member" : "lead" } });
    }
    for (let i = 0; i < 6; i++) {
      const at = new Date(Date.UTC(2030, 5, 1 + i, 12, 0, 0, i % 3 === 0 ? 250 : 0));
      await base.event.create({ data: { at, price: `${10 + i}.${i % 2 === 0 ? "50" : "05"}`, label: `e seed ${i}` } });
    }
  } finally {
    await base.$disconnect();
    await pool.end();
  }
}

async function removeKeys(redis: Redis, patterns: string[]): Promise<void> {
  for (const pattern of patterns) {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== "0");
  }
}
