// The parent side of the cold-key herd: starts the worker processes once, then runs rounds in
// which every worker reads the same cold row at the same moment.
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { HerdWorkerCommand, HerdWorkerMessage, HerdWorkerReport } from "./herd-protocol.ts";
import type { SystemId } from "./systems.ts";

const WORKER = fileURLToPath(new URL("./herd-worker.ts", import.meta.url));
const TIMEOUT_MS = 60_000;

export interface HerdWorkers {
  /** One round: every worker issues `reads` reads of `id` at `startAt` (epoch ms). */
  round(system: SystemId, id: number, expectedVersion: number, reads: number, startAt: number): Promise<HerdWorkerReport[]>;
  stop(): Promise<void>;
}

export async function startHerdWorkers(count: number, env: { databaseUrl: string; redisUrl: string; namespace: string }): Promise<HerdWorkers> {
  const children: ChildProcess[] = [];
  const waiting: ((message: HerdWorkerMessage) => void)[][] = [];
  for (let worker = 0; worker < count; worker++) {
    const child = fork(WORKER, [], {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, HERD_WORKER: String(worker), HERD_DATABASE_URL: env.databaseUrl, HERD_REDIS_URL: env.redisUrl, HERD_NAMESPACE: env.namespace },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    waiting.push([]);
    child.on("message", (message: HerdWorkerMessage) => waiting[worker]!.shift()?.(message));
    children.push(child);
  }
  const next = (worker: number) =>
    withTimeout(
      new Promise<HerdWorkerMessage>((resolve) => waiting[worker]!.push(resolve)),
      `herd worker ${worker}`,
    ).then((message) => {
      if (message.type === "error") throw new Error(`herd worker ${worker}: ${message.message}`);
      return message;
    });
  await Promise.all(children.map((_, worker) => next(worker)));
  return {
    round: async (system, id, expectedVersion, reads, startAt) => {
      const answers = children.map((_, worker) => next(worker));
      for (const child of children) child.send({ type: "round", system, id, expectedVersion, reads, startAt } satisfies HerdWorkerCommand);
      const messages = await Promise.all(answers);
      return messages.map((message) => (message as Extract<HerdWorkerMessage, { type: "report" }>).report);
    },
    stop: async () => {
      await Promise.all(
        children.map((child) => {
          if (child.exitCode !== null || child.signalCode !== null) return undefined;
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.send({ type: "exit" } satisfies HerdWorkerCommand);
          const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
          return exited.finally(() => clearTimeout(timer));
        }),
      );
    },
  };
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${TIMEOUT_MS / 1000} s`)), TIMEOUT_MS)))]).finally(() =>
    clearTimeout(timer),
  );
}
