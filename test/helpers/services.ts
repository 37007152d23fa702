// Finds the PostgreSQL and Redis the tests talk to: DATABASE_URL / REDIS_URL when set, else the
// servers on their default local ports, else containers (a laptop with Docker but no servers).
import net from "node:net";

export interface Services {
  /** A Postgres URL whose user may create databases. */
  postgresAdminUrl: string;
  redisUrl: string;
  stop(): Promise<void>;
}

const LOCAL_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres";
const LOCAL_REDIS = "redis://127.0.0.1:6379";

export async function resolveServices(): Promise<Services> {
  const stops: Array<() => Promise<unknown>> = [];
  const postgresAdminUrl = process.env.DATABASE_URL ?? ((await answers(5432)) ? LOCAL_POSTGRES : await startContainer("postgres", stops));
  const redisUrl = process.env.REDIS_URL ?? ((await answers(6379)) ? LOCAL_REDIS : await startContainer("redis", stops));
  return { postgresAdminUrl, redisUrl, stop: async () => void (await Promise.all(stops.map((stop) => stop()))) };
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, timeout: 1000 });
    const settle = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.once("connect", () => settle(true));
    socket.once("error", () => settle(false));
    socket.once("timeout", () => settle(false));
  });
}

async function startContainer(kind: "postgres" | "redis", stops: Array<() => Promise<unknown>>): Promise<string> {
  let testcontainers: typeof import("testcontainers");
  try {
    testcontainers = await import("testcontainers");
  } catch (error) {
    throw new Error(`No ${kind} server answers on its default port, DATABASE_URL/REDIS_URL are unset, and testcontainers cannot load`, { cause: error });
  }
  const { GenericContainer, Wait } = testcontainers;
  if (kind === "postgres") {
    const container = await new GenericContainer("postgres:16-alpine")
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: "trust" })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    stops.push(() => container.stop());
    return `postgresql://postgres@${container.getHost()}:${container.getMappedPort(5432)}/postgres`;
  }
  const container = await new GenericContainer("redis:7-alpine").withExposedPorts(6379).start();
  stops.push(() => container.stop());
  return `redis://${container.getHost()}:${container.getMappedPort(6379)}`;
}
