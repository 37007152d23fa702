import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Cluster, Redis, type ClusterOptions } from "ioredis";
import { freePort, keepOutput, throwIfExited, throwIfOtherServer } from "./redis-server.ts";

const run = promisify(execFile);

/** A private 6-node Redis Cluster (3 masters, 3 replicas) on free ports, stopped by PID. */
export class RedisCluster {
  private constructor(readonly ports: number[], private readonly nodes: ChildProcess[], private readonly dir: string) {}

  static async start(): Promise<RedisCluster> {
    const dir = mkdtempSync(join(tmpdir(), "pcs-cluster-"));
    const ports: number[] = [];
    while (ports.length < 6) {
      const port = await freePort({ withBusPort: true });
      if (!ports.includes(port)) ports.push(port);
    }
    const nodes = ports.map((port) =>
      spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", join(dir, `nodes-${port}.conf`), "--save", "", "--appendonly", "no", "--repl-diskless-sync-delay", "0", "--dir", dir], { stdio: ["ignore", "pipe", "pipe"] }),
    );
    const outputs = nodes.map(keepOutput);
    const cluster = new RedisCluster(ports, nodes, dir);
    try {
      for (const [index, port] of ports.entries()) await waitForServer(port, nodes[index]!, outputs[index]!);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    await run("redis-cli", ["--cluster", "create", ...ports.map((port) => `127.0.0.1:${port}`), "--cluster-replicas", "1", "--cluster-yes"]);
    await cluster.waitUntilReady();
    return cluster;
  }

  connect(options: ClusterOptions = {}): Cluster {
    const cluster = new Cluster([{ host: "127.0.0.1", port: this.ports[0]! }], options);
    cluster.on("error", () => {});
    return cluster;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map((node) => {
        // A node killed by a signal has a signalCode and no exitCode: it will not exit again.
        if (node.exitCode !== null || node.signalCode !== null) return undefined;
        const exited = new Promise((resolve) => node.once("exit", resolve));
        node.kill("SIGKILL");
        return exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Every slot served, and every replica in sync with its master (a failover needs one that is). */
  private async waitUntilReady(): Promise<void> {
    const probes = this.ports.map((port) => new Redis(port, "127.0.0.1"));
    try {
      for (let attempt = 0; attempt < 400; attempt++) {
        const ok = String(await probes[0]!.cluster("INFO")).includes("cluster_state:ok");
        const roles = (await Promise.all(probes.map((probe) => probe.call("ROLE")))) as unknown[][];
        if (ok && roles.every((role) => role[0] === "master" || role[3] === "connected")) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error("the Redis Cluster did not become ready");
    } finally {
      for (const probe of probes) probe.disconnect();
    }
  }
}

async function waitForServer(port: number, node: ChildProcess, output: () => string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    throwIfExited(node, port, output);
    const answer = await run("redis-cli", ["-p", String(port), "info", "server"]).catch(() => undefined);
    if (answer !== undefined && answer.stdout.includes("process_id:")) return throwIfOtherServer(answer.stdout, node, port);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not start`);
}

/** Runs one command (or a few) on the node at `port` alone, on a connection of its own. */
export async function onNode<T>(port: number, use: (node: Redis) => Promise<T>): Promise<T> {
  const node = new Redis(port, "127.0.0.1", { maxRetriesPerRequest: 1 });
  node.on("error", () => {});
  try {
    return await use(node);
  } finally {
    node.disconnect();
  }
}
