import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface Child<T> {
  /** Resolves with the JSON object the child prints last on stdout. */
  result: Promise<T>;
  kill(): void;
}

/** Starts a TypeScript file in a new Node process: its own PrismaClient, its own L1. */
export function startChild<T>(script: string, env: Record<string, string>, timeoutMs = 60_000): Child<T> {
  const file = fileURLToPath(new URL(`../multi-process/${script}`, import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", file], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const result = new Promise<T>((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
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
  return { result, kill: () => child.kill("SIGKILL") };
}

export function runChild<T>(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<T> {
  return startChild<T>(script, env, timeoutMs).result;
}
