import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * Runs a TypeScript file in a new Node process (its own PrismaClient, its own L1) and resolves
 * with the JSON object it prints last on stdout.
 */
export function runChild<T>(script: string, env: Record<string, string>, timeoutMs = 60_000): Promise<T> {
  const file = fileURLToPath(new URL(`../multi-process/${script}`, import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const last = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`${script} exited with ${code}: ${stderr || stdout}`));
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON result: ${stdout}\n${stderr}`));
      }
    });
  });
}
