import { parseArgs } from "node:util";
import { CliError } from "./errors.js";

export const COMMANDS = ["warm", "stats", "top", "flush"] as const;
export type Command = (typeof COMMANDS)[number];

export interface CliArgs {
  command: Command | "help";
  /** The --client module path, as given. */
  client: string;
  /** The export holding the client (--export), when the default search should not run. */
  exportName: string | undefined;
  top: number | undefined;
  concurrency: number | undefined;
  /** --replay-timeout: milliseconds a warm replay may take. */
  replayTimeout: number | undefined;
  limit: number | undefined;
  model: string | undefined;
  json: boolean;
  quiet: boolean;
}

export const USAGE = `Usage: prisma-cache-shield <command> --client <module> [options]

Commands:
  warm    replay the most valuable recorded queries into the cache (at deploy, before traffic)
            --top N            how many queries (default 100)
            --concurrency N    replays in flight (default 4)
            --replay-timeout MS  a replay taking longer fails (default 60000)
            --quiet            no progress bar
  stats   counters of every live instance, per model: hit rate, hits, misses, entries, hot queries
  top     the most valuable recorded queries (popularity × load time)
            --limit N          how many (default 20)
            --model M          only this model's
  flush   invalidate every cached read, or one model's, on every instance
            --model M          only this model

Options:
  --client, -c <module>  a module exporting the Prisma client extended with cacheExtension():
                         its default export, or an export named prisma, client or db.
                         A TypeScript module needs a loader: NODE_OPTIONS='--import tsx' npx prisma-cache-shield ...
  --export, -e <name>    the export holding the client
  --json                 print JSON instead of tables
  --help, -h             this help

Exit status: 0 done, 1 the command failed (Redis or the database), 2 bad usage or client module.`;

/** Parses the command line; throws CliError E_USAGE with a precise message. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      tokens: true,
      options: {
        client: { type: "string", short: "c" },
        export: { type: "string", short: "e" },
        top: { type: "string" },
        concurrency: { type: "string" },
        "replay-timeout": { type: "string" },
        limit: { type: "string" },
        model: { type: "string" },
        json: { type: "boolean", default: false },
        quiet: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new CliError("E_USAGE", (error as Error).message);
  }
  const { values, positionals, tokens } = parsed;
  // parseArgs keeps the last of a repeated option: `--client a --client b` is a mistake, not a choice (a repeated flag is harmless).
  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== "option" || token.value === undefined) continue;
    if (seen.has(token.name)) throw new CliError("E_USAGE", `--${token.name} given more than once`);
    seen.add(token.name);
  }
  const json = values.json === true;
  const quiet = values.quiet === true;
  const base = { client: "", exportName: undefined, top: undefined, concurrency: undefined, replayTimeout: undefined, limit: undefined, model: undefined, json, quiet };
  if (values.help === true) return { ...base, command: "help" };
  if (positionals.length === 0) throw new CliError("E_USAGE", `no command given (expected one of: ${COMMANDS.join(", ")})`);
  const [command, ...extra] = positionals;
  if (!(COMMANDS as readonly string[]).includes(command!)) throw new CliError("E_USAGE", `unknown command "${command}" (expected one of: ${COMMANDS.join(", ")})`);
  if (extra.length > 0) throw new CliError("E_USAGE", `unexpected argument "${extra[0]}"`);
  if (values.client === undefined || values.client === "") throw new CliError("E_USAGE", "--client <module> is required: the module that exports your extended Prisma client");
  const allowed: Record<Command, readonly string[]> = { warm: ["top", "concurrency", "replay-timeout", "quiet"], stats: [], top: ["limit", "model"], flush: ["model"] };
  // --quiet defaults to false, so only a given one counts; the usage lists it under warm alone (a `flush --quiet` in a script silences nothing).
  for (const option of ["top", "concurrency", "replay-timeout", "limit", "model", "quiet"] as const) {
    const given = option === "quiet" ? quiet : values[option] !== undefined;
    if (given && !allowed[command as Command].includes(option)) throw new CliError("E_USAGE", `--${option} does not apply to ${command}`);
  }
  return {
    ...base,
    command: command as Command,
    client: values.client,
    exportName: values.export,
    top: positiveInteger(values.top, "--top"),
    concurrency: positiveInteger(values.concurrency, "--concurrency"),
    replayTimeout: positiveInteger(values["replay-timeout"], "--replay-timeout"),
    limit: positiveInteger(values.limit, "--limit"),
    model: values.model,
  };
}

function positiveInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1) throw new CliError("E_USAGE", `${name} expects a positive integer, got "${value}"`);
  return number;
}
