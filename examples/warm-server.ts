// An HTTP service that warms its cache before it reports ready:
//
//   npx tsx examples/warm-server.ts            (PORT, DATABASE_URL and REDIS_URL are read when set)
//
// It listens at once, so liveness answers, but GET /ready is 503 until `$cache.warm()` resolves:
// a load balancer or a Kubernetes readinessProbe sends it no traffic while its L1 is cold. warm()
// replays the queries the fleet recorded as most valuable (popularity × load time), so after a
// deploy the new instance serves them from memory from its first request; instances starting
// together load each query once between them.
//
// Try it: curl localhost:3000/users/1 (and a few other ids) a few times, stop the server (Ctrl-C),
// start it again and watch it warm what was read before GET /ready turns 200.
//
// Data: DATABASE_URL, or an embedded PGlite (in memory, seeded with the same 100 users each run).
// Redis is required (statistics live there): REDIS_URL, or redis://127.0.0.1:6379.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { PrismaPg } from "@prisma/adapter-pg";
import { Redis } from "ioredis";
import { PrismaClient, type Prisma } from "../prisma/generated/client.ts";
import { cacheExtension, type WarmProgress, type WarmResult } from "../src/index.ts";
import { openDatabase } from "./demo/database.ts";

const port = Number(process.env.PORT ?? 3000);
const database = await openDatabase();
const redis = new Redis(process.env.REDIS_URL ?? "redis://127.0.0.1:6379", { maxRetriesPerRequest: 1 });
const base = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url, max: database.maxConnections }) });
const prisma = base.$extends(
  cacheExtension<Prisma.ModelName>({
    redis,
    namespace: "warm-server-example",
    models: { User: { ttl: 300 }, Post: { ttl: 60 } },
    // Flush the recorded queries every second, not every 5 s: this example has little traffic to wait for.
    queryStats: { flushInterval: 1_000 },
  }),
);

await seedOnce();

let warming: WarmProgress | undefined;
let warmed: WarmResult | undefined;

const server = createServer((request, response) => {
  route(request, response).catch((error: unknown) => send(response, 500, { error: String((error as Error)?.message ?? error) }));
});
server.listen(port, () => console.log(`listening on http://localhost:${port} (GET /ready is 503 until the cache is warm)`));

// Warm in the background: the server already answers /healthz and /ready (503) meanwhile.
const started = Date.now();
warmed = await prisma.$cache.warm({ top: 200, concurrency: 4, onProgress: (progress) => (warming = progress) });
console.log(`warm: ${warmed.warmed} warmed, ${warmed.failed} failed, ${warmed.skipped} skipped in ${Date.now() - started} ms; ready`);

async function route(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? "/", "http://localhost");
  if (url.pathname === "/healthz") return send(response, 200, { status: "alive" });
  if (url.pathname === "/ready") {
    if (warmed === undefined) return send(response, 503, { status: "warming", progress: warming ?? null });
    return send(response, 200, { status: "ready", warm: warmed });
  }
  if (url.pathname === "/stats") return send(response, 200, prisma.$cache.stats());
  const match = /^\/users\/(\d+)(\/posts)?$/.exec(url.pathname);
  if (match === null) return send(response, 404, { error: "try /users/1, /users/1/posts, /ready, /stats" });
  const id = Number(match[1]);
  if (match[2] !== undefined) return send(response, 200, await prisma.post.findMany({ where: { authorId: id }, orderBy: { id: "asc" } }));
  const user = await prisma.user.findUnique({ where: { id } });
  return user === null ? send(response, 404, { error: `no user ${id}` }) : send(response, 200, user);
}

function send(response: ServerResponse, status: number, body: unknown): void {
  // BigInt and Bytes have no JSON form of their own; Decimal and Date bring theirs.
  const json = JSON.stringify(body, (_key, value: unknown) => (typeof value === "bigint" ? value.toString() : value instanceof Uint8Array ? Buffer.from(value).toString("base64") : value));
  response.writeHead(status, { "content-type": "application/json" }).end(json);
}

/** 100 users with 3 posts each, created once: their ids stay the same from run to run. */
async function seedOnce(): Promise<void> {
  if ((await base.user.count({ where: { email: { endsWith: "@warm-server.example" } } })) > 0) return;
  for (let i = 1; i <= 100; i++) {
    await base.user.create({
      data: {
        email: `user${i}@warm-server.example`,
        name: `User ${i}`,
        balance: `${i * 10}.50`,
        visits: BigInt(i),
        score: i / 3,
        profile: { plan: i % 10 === 0 ? "pro" : "free" },
        posts: { create: [1, 2, 3].map((n) => ({ slug: `u${i}-p${n}`, title: `Post ${n} of user ${i}`, published: n !== 3 })) },
      },
    });
  }
}

async function shutdown(signal: string): Promise<void> {
  console.log(`${signal}: closing`);
  server.close();
  let exitCode = 0;
  try {
    // Rejects with what it could not deliver (writes still running, Redis unreachable): say so, and close the rest all the same.
    await prisma.$cache.close();
  } catch (error) {
    console.error(error);
    exitCode = 1;
  } finally {
    await base.$disconnect();
    redis.disconnect();
    await database.close();
  }
  process.exit(exitCode);
}
process.once("SIGINT", () => void shutdown("SIGINT"));
process.once("SIGTERM", () => void shutdown("SIGTERM"));
