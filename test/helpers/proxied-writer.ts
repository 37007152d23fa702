import { Redis } from "ioredis";
import { createBaseClient, uniqueNamespace, type BaseClient } from "./client.ts";
import { ChaosRedis } from "./redis-server.ts";
import { seedUser } from "./seed.ts";
import { TcpProxy } from "./tcp-proxy.ts";
import { databaseUrl } from "./databases.ts";

/** What a test of a writer cut off from Redis works with: see withProxiedWriter(). */
export interface ProxiedWriterSetup {
  chaos: ChaosRedis;
  /** In front of `chaos`: the writer reaches Redis through it, so the test can cut it off alone. */
  proxy: TcpProxy;
  base: BaseClient;
  admin: Redis;
  user: Awaited<ReturnType<typeof seedUser>>;
  namespace: string;
  /** The child processes' environment: the database, the namespace, the user's id. */
  common: Record<string, string>;
}

/**
 * A private Redis with a proxy in front, a seeded user and a namespace, for the tests whose
 * writer process reaches Redis through the proxy while readers connect directly; all of it
 * closed after `run`.
 */
export async function withProxiedWriter(run: (setup: ProxiedWriterSetup) => Promise<void>): Promise<void> {
  const chaos = await ChaosRedis.start();
  const proxy = await TcpProxy.start(chaos.port);
  const { base } = createBaseClient();
  const admin = new Redis(chaos.url);
  try {
    const user = await seedUser(base);
    const namespace = uniqueNamespace();
    const common = { DATABASE_URL: databaseUrl(), NAMESPACE: namespace, USER_ID: String(user.id) };
    await run({ chaos, proxy, base, admin, user, namespace, common });
  } finally {
    admin.disconnect();
    await base.$disconnect();
    await proxy.stop();
    await chaos.stop();
  }
}
