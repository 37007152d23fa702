import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { ChaosRedis, freePort } from "./redis-server.ts";
import { until } from "./wait.ts";

/** The name the sentinel monitors its primary under. */
export const SENTINEL_MASTER_NAME = "pcs-primary";

/**
 * A primary, one replica and one sentinel watching them (quorum 1), each a private redis-server a
 * test stops at the end. `failover()` is Sentinel's manual failover: the replica is promoted, and
 * Sentinel turns the old primary into a replica only when it next polls it (every 10 s): until
 * then both take writes.
 */
export class SentinelSetup {
  private constructor(readonly primary: ChaosRedis, readonly replica: ChaosRedis, readonly sentinelPort: number, private sentinel: ChildProcess, private readonly config: string) {}

  static async start(): Promise<SentinelSetup> {
    const primary = await ChaosRedis.start();
    const replica = await ChaosRedis.startReplicaOf(primary);
    await replica.replicatedFrom(primary);
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), "chaos-sentinel-"));
    const config = join(dir, "sentinel.conf");
    writeFileSync(
      config,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER_NAME} 127.0.0.1 ${primary.port} 1`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_MASTER_NAME} 10000`,
        "",
      ].join("\n"),
    );
    const setup = new SentinelSetup(primary, replica, port, spawnSentinel(config), config);
    // A manual failover needs a replica the sentinel has seen in sync with the primary.
    await setup.withSentinel((admin) =>
      until(async () => {
        const replicas = (await admin.call("SENTINEL", "REPLICAS", SENTINEL_MASTER_NAME).catch(() => [])) as string[][];
        return replicas.some((fields) => fieldOf(fields, "master-link-status") === "ok" && fieldOf(fields, "flags") === "slave");
      }, 30_000, 100),
    );
    return setup;
  }

  /** ioredis options that find the primary through this sentinel. */
  get clientOptions(): { sentinels: Array<{ host: string; port: number }>; name: string } {
    return { sentinels: [{ host: "127.0.0.1", port: this.sentinelPort }], name: SENTINEL_MASTER_NAME };
  }

  /** `SENTINEL FAILOVER`; resolves once the sentinel names the replica as the primary. */
  async failover(): Promise<void> {
    await this.withSentinel(async (admin) => {
      await admin.call("SENTINEL", "FAILOVER", SENTINEL_MASTER_NAME);
      await until(async () => {
        const address = (await admin.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", SENTINEL_MASTER_NAME)) as string[];
        return Number(address[1]) === this.replica.port;
      }, 30_000, 20);
    });
  }

  /** Kills the sentinel and starts it again from its configuration (which it keeps up to date). */
  async restartSentinel(): Promise<void> {
    await this.#stopSentinel();
    this.sentinel = spawnSentinel(this.config);
    await this.withSentinel((admin) => until(async () => (await admin.ping().catch(() => "")) === "PONG", 10_000, 50));
  }

  /** How many connections subscribe to the sentinel (failover detectors listening for `+switch-master`). */
  async subscribers(): Promise<number> {
    return this.withSentinel(async (admin) => {
      const clients = String(await admin.call("CLIENT", "LIST"));
      return clients.split("\n").filter((line) => / sub=[1-9]/.test(line)).length;
    });
  }

  /** What `ROLE` says of a server: "master" or "slave". */
  static async roleOf(server: ChaosRedis): Promise<string> {
    const admin = new Redis(server.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    try {
      return ((await admin.call("ROLE")) as unknown[])[0] as string;
    } finally {
      admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    await this.#stopSentinel();
    await Promise.all([this.primary.stop(), this.replica.stop()]);
  }

  async #stopSentinel(): Promise<void> {
    if (this.sentinel.exitCode !== null || this.sentinel.signalCode !== null) return;
    const exited = new Promise((resolve) => this.sentinel.once("exit", resolve));
    this.sentinel.kill("SIGKILL");
    await exited;
  }

  private async withSentinel<T>(use: (admin: Redis) => Promise<T>): Promise<T> {
    const admin = new Redis(this.sentinelPort, "127.0.0.1", { maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    admin.on("error", () => {});
    try {
      return await use(admin);
    } finally {
      admin.disconnect();
    }
  }
}

/** A field of the flat name/value list `SENTINEL REPLICAS` answers for each replica. */
function fieldOf(fields: readonly string[], name: string): string | undefined {
  const at = fields.indexOf(name);
  return at >= 0 ? fields[at + 1] : undefined;
}

function spawnSentinel(config: string): ChildProcess {
  return spawn("redis-server", [config, "--sentinel"], { stdio: "ignore" });
}
