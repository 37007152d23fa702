import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { bundle } from "./bundle.ts";

export interface Child<T> {
  /** Resolves with the JSON object the child prints last on stdout. */
  result: Promise<T>;
  kill(): void;
  /** The Node process itself (for SIGSTOP/SIGCONT). */
  pid: number;
  /** Resolves when the child prints a stdout line equal to `line`. */
  printed(line: string): Promise<void>;
}

/** Starts a TypeScript file in a new Node process: its own PrismaClient, its own L1. */
export function startChild<T>(script: string, env: Record<string, string>, timeoutMs = 60_000): Child<T> {
  const source = fileURLToPath(new URL(`../multi-process/${script}`, import.meta.url));
  const file = bundle(script, [source]).get(source)!;
  const child = spawn(process.execPath, ["--enable-source-maps", file], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  const lineWaiters: Array<{ line: string; resolve: () => void }> = [];
  const result = new Promise<T>((resolve, reject) => {
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const lines = stdout.split("\n");
      for (const waiter of [...lineWaiters]) {
        if (lines.includes(waiter.line)) {
          lineWaiters.splice(lineWaiters.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`${script} exited with ${code ?? signal}: ${stderr || stdout}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON result: ${stdout}\n${stderr}`));
      }
    });
  });
  const printed = (line: string) =>
    stdout.split("\n").includes(line) ? Promise.resolve() : Promise.race([new Promise<void>((resolve) => lineWaiters.push({ line, resolve })), result.then(() => Promise.reject(new Error(`${script} exited without printing ${line}`)))]);
  return { result, kill: () => child.kill("SIGKILL"), pid: child.pid!, printed };
}

export function runChild<T>(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<T> {
  return startChild<T>(script, env, timeoutMs).result;
}
