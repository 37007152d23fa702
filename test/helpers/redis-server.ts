import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import net from "node:net";
import { Redis } from "ioredis";

/** A private redis-server on a free port that a test may pause, resume or kill by PID. */
export class ChaosRedis {
  private child!: ChildProcess;
  private output!: () => string;

  private constructor(readonly port: number, private extraArgs: readonly string[], private dir: string) {}

  private spawn(): void {
    this.child = spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir, ...this.extraArgs], { stdio: ["ignore", "pipe", "pipe"] });
    this.output = keepOutput(this.child);
  }

  /**
   * A fresh server on `port` (a free one by default); `extraArgs`: more redis-server arguments,
   * e.g. `["--enable-debug-command", "local"]` (also accepted in place of the port).
   */
  static async start(portOrArgs?: number | readonly string[], extraArgs: readonly string[] = []): Promise<ChaosRedis> {
    const args = Array.isArray(portOrArgs) ? portOrArgs : extraArgs;
    const chosen = typeof portOrArgs === "number" ? portOrArgs : await freePort();
    const dir = freshDir();
    const server = new ChaosRedis(chosen, args, dir);
    server.spawn();
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
    this.spawn();
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
    this.spawn();
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
      throwIfExited(this.child, this.port, this.output);
      try {
        await probe.connect();
        const info = await probe.info("server");
        probe.disconnect();
        throwIfOtherServer(info, this.child, this.port);
        return;
      } catch (error) {
        if (error instanceof PortTakenError) throw error;
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

/**
 * A port free now, below the kernel's ephemeral range: the ports outgoing connections take for
 * themselves come from that range, and one of them could take a port between this check and the
 * server's bind (a CI run lost a cluster node so: "did not start").
 */
export async function freePort(options: { withBusPort?: boolean } = {}): Promise<number> {
  const lowest = 10_000;
  const ephemeralStart = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
  // A cluster node also listens on its port + 10 000 (the cluster bus): keep that below the range too.
  const busOffset = options.withBusPort === true ? CLUSTER_BUS_OFFSET : 0;
  const below = (Number.isInteger(ephemeralStart) && ephemeralStart > lowest + busOffset + 1_000 ? ephemeralStart : 32_768) - busOffset;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = lowest + Math.floor(Math.random() * (below - lowest));
    if ((await listensOn(port)) && (busOffset === 0 || (await listensOn(port + busOffset)))) return port;
  }
  throw new Error(`no free port between ${lowest} and ${below}`);
}

const CLUSTER_BUS_OFFSET = 10_000;

function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** What a redis-server printed (its last 4 KB), kept for the error when it exits before answering. */
export function keepOutput(child: ChildProcess): () => string {
  let output = "";
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4_096));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return () => output;
}

/** Throws, with the server's output, if `child` exited: a dead server is not waited for. */
export function throwIfExited(child: ChildProcess, port: number, output: () => string): void {
  if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on port ${port} exited (${child.exitCode ?? child.signalCode}):\n${output()}`);
}

class PortTakenError extends Error {}

/** Throws if the server answering on `port` is not `child` (another test's server took the port first). */
export function throwIfOtherServer(info: string, child: ChildProcess, port: number): void {
  const pid = /process_id:(\d+)/.exec(info)?.[1];
  if (Number(pid) !== child.pid) throw new PortTakenError(`port ${port} is another redis-server's (pid ${pid}), not ours (pid ${child.pid})`);
}
