import { settleWithin } from "../core/settle-within.js";
import { CacheError } from "../errors.js";
import { parseCliArgs, USAGE } from "./args.js";
import * as commands from "./commands.js";
import type { CliIo } from "./commands.js";
import { CliError } from "./errors.js";
import { loadClient } from "./load-client.js";

/** Runs one CLI invocation; resolves with the exit status. */
export async function runCli(argv: readonly string[], io: CliIo & { cwd: string }): Promise<number> {
  let loaded;
  let args;
  try {
    args = parseCliArgs(argv);
    if (args.command === "help") {
      io.stdout.write(`${USAGE}\n`);
      return 0;
    }
    loaded = await loadClient(args.client, io.cwd, args.exportName);
  } catch (error) {
    if (!(error instanceof CliError)) throw error;
    io.stderr.write(`prisma-cache-shield: ${error.message} [${error.code}]\n`);
    if (error.code === "E_USAGE") io.stderr.write(`\n${USAGE}\n`);
    return 2;
  }
  let lastRedisFailure: string | undefined;
  const remember = ({ error }: { error: { code?: unknown; message?: unknown } }) => {
    if (error?.code === "E_STORE") lastRedisFailure = String(error.message);
  };
  loaded.client.$cache.events?.on("error", remember);
  try {
    return await commands[args.command](loaded.client, args, { ...io, lastRedisFailure: () => lastRedisFailure });
  } catch (error) {
    const message = (error as Error)?.message ?? String(error);
    // By code, not instanceof: the client module may load another copy of this package (CJS vs ESM, or a nested install).
    // An argument the client refused (a model the schema does not have) is bad usage, like an unknown option.
    if ((error as { code?: unknown } | null)?.code === "E_INVALID_ARGUMENT") {
      io.stderr.write(`prisma-cache-shield: ${message} [E_USAGE]\n\n${USAGE}\n`);
      return 2;
    }
    const code = error instanceof CacheError || typeof (error as { code?: unknown } | null)?.code === "string" ? ` [${(error as { code: string }).code}]` : "";
    io.stderr.write(`prisma-cache-shield ${args.command} failed: ${message}${code}\n`);
    return 1;
  } finally {
    // Stop the client's timers and connections so the process can exit; never the app's own Redis.
    await loaded.client.$cache.close().catch(() => {});
    // Bounded: a pool whose query never returns (a database that stopped answering, a replay warm()
    // gave up on) never ends, and the command must still exit with its status (outside probe 175).
    await settleWithin(Promise.resolve(loaded.client.$disconnect?.()), DISCONNECT_WAIT_MS);
  }
}

/** How long the CLI waits for the client's database connections to close before it exits anyway. */
const DISCONNECT_WAIT_MS = 5_000;
