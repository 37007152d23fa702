import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { Redis } from "ioredis";

/** A private redis-server on a free port that a test may pause, resume or kill by PID. */
export class ChaosRedis {
  private constructor(readonly port: number, private child: ChildProcess, private extraArgs: readonly string[], private dir: string) {}

  /**
   * A fresh server on `port` (a free one by default); `extraArgs`: more redis-server arguments,
   * e.g. `["--enable-debug-command", "local"]` (also accepted in place of the port).
   */
  static async start(portOrArgs?: number | readonly string[], extraArgs: readonly string[] = []): Promise<ChaosRedis> {
    const args = Array.isArray(portOrArgs) ? portOrArgs : extraArgs;
    const chosen = typeof portOrArgs === "number" ? portOrArgs : await freePort();
    const dir = freshDir();
    const server = new ChaosRedis(chosen, spawnServer(chosen, dir, args), args, dir);
    await server.waitUntilReady();
    return server;
  }

  /** A replica of `primary` (asynchronous replication, as in production), in sync once `replicatedFrom()` resolves. */
  static async startReplicaOf(primary: ChaosRedis, extraArgs: readonly string[] = []): Promise<ChaosRedis> {
    const admin = new Redis(primary.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    try {
      // The first sync streams at once instead of waiting 5 s for more replicas.
      await admin.config("SET", "repl-diskless-sync-delay", "0");
    } finally {
      admin.disconnect();
    }
    return ChaosRedis.start([...extraArgs, "--replicaof", "127.0.0.1", String(primary.port)]);
  }

  /** Resolves once this replica has acknowledged everything `primary` has written so far (WAIT 1). */
  async replicatedFrom(primary: ChaosRedis, timeoutMs = 10_000): Promise<void> {
    const admin = new Redis(primary.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    try {
      const deadline = Date.now() + timeoutMs;
      while ((await admin.call("WAIT", "1", "200")) !== 1) {
        if (Date.now() > deadline) throw new Error(`replica on port ${this.port} never caught up with ${primary.port}`);
      }
    } finally {
      admin.disconnect();
    }
  }

  /** Promotes a replica (`REPLICAOF NO ONE`): from now on it takes writes and replicates nothing more. */
  async promote(): Promise<void> {
    const admin = new Redis(this.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    try {
      await admin.call("REPLICAOF", "NO", "ONE");
    } finally {
      admin.disconnect();
    }
    // A later restart starts it as the primary it now is.
    const at = this.extraArgs.indexOf("--replicaof");
    if (at >= 0) this.extraArgs = [...this.extraArgs.slice(0, at), ...this.extraArgs.slice(at + 3)];
  }

  /** Kills the server and starts an empty one on the same port (every key lost, clients reconnect). */
  async restartEmpty(): Promise<void> {
    await this.stop();
    this.dir = freshDir();
    this.child = spawnServer(this.port, this.dir, this.extraArgs);
    await this.waitUntilReady();
  }

  /** Writes a snapshot (SAVE): what `restartFromSnapshot()` comes back with. */
  async save(): Promise<void> {
    const admin = new Redis(this.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    try {
      await admin.call("SAVE");
    } finally {
      admin.disconnect();
    }
  }

  /** Kills the server and starts it again from its last snapshot: every write since `save()` is lost. */
  async restartFromSnapshot(): Promise<void> {
    await this.stop();
    this.child = spawnServer(this.port, this.dir, this.extraArgs);
    await this.waitUntilReady();
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Freezes the server: connections stay open, commands get no answer. */
  pause(): void {
    process.kill(this.pid, "SIGSTOP");
  }

  resume(): void {
    process.kill(this.pid, "SIGCONT");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    process.kill(this.pid, "SIGCONT");
    process.kill(this.pid, "SIGKILL");
    await exited;
  }

  private async waitUntilReady(): Promise<void> {
    const probe = new Redis(this.port, "127.0.0.1", { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => {});
    for (let attempt = 0; attempt < 100; attempt++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        probe.disconnect();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }
}

/** Each server its own directory: snapshots (and a replica's first sync) write an RDB file there. */
function freshDir(): string {
  return mkdtempSync(join(tmpdir(), "chaos-redis-"));
}

function spawnServer(port: number, dir: string, extraArgs: readonly string[] = []): ChildProcess {
  return spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...extraArgs], { stdio: "ignore" });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
