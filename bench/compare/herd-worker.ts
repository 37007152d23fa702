// One process of the cold-key herd: builds every system once, then for each round waits for the
// common start time and issues all its reads of one cold row at once, reporting their latencies
// and the statements it sent to PostgreSQL.
import { createSystem, SYSTEM_IDS, type SystemClient, type SystemId } from "./systems.ts";
import type { HerdWorkerCommand, HerdWorkerMessage, HerdWorkerReport } from "./herd-protocol.ts";

const worker = Number(process.env.HERD_WORKER ?? 0);
const systems = new Map<SystemId, SystemClient>(
  SYSTEM_IDS.map((id) => [id, createSystem(id, process.env.HERD_DATABASE_URL!, process.env.HERD_REDIS_URL!, process.env.HERD_NAMESPACE!)]),
);

function send(message: HerdWorkerMessage): void {
  process.send?.(message);
}

async function waitUntil(epochMs: number): Promise<void> {
  const early = epochMs - Date.now() - 3;
  if (early > 0) await new Promise((resolve) => setTimeout(resolve, early));
  while (Date.now() < epochMs) {
    /* spin the last few ms so every process starts within a millisecond */
  }
}

async function round(command: Extract<HerdWorkerCommand, { type: "round" }>): Promise<HerdWorkerReport> {
  const system = systems.get(command.system)!;
  const report: HerdWorkerReport = { worker, latencies: [], statements: 0, wrongReads: 0, errors: 0, firstError: undefined };
  await waitUntil(command.startAt);
  const before = system.statements.statements;
  const released = performance.now();
  const offset = Date.now() - command.startAt;
  await Promise.all(
    Array.from({ length: command.reads }, async () => {
      try {
        const row = await system.findPost(command.id);
        if (row?.id !== command.id || row.version !== command.expectedVersion) report.wrongReads++;
        report.latencies.push(performance.now() - released + offset);
      } catch (error) {
        report.errors++;
        report.firstError ??= String((error as Error)?.message ?? error).slice(0, 300);
      }
    }),
  );
  report.statements = system.statements.statements - before;
  return report;
}

process.on("message", (command: HerdWorkerCommand) => {
  if (command.type === "exit") {
    void Promise.all([...systems.values()].map((system) => system.close())).finally(() => process.exit(0));
    return;
  }
  round(command).then(
    (report) => send({ type: "report", report }),
    (error: unknown) => send({ type: "error", message: String((error as Error)?.message ?? error) }),
  );
});

// Connect every client before reporting ready, so the first round does not measure start-up.
Promise.all([...systems.values()].map((system) => system.findPost(1).catch(() => null))).then(
  () => send({ type: "ready" }),
  (error: unknown) => send({ type: "error", message: String(error) }),
);
