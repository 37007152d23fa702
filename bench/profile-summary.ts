// Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by module.
//
//   node --import tsx --cpu-prof --cpu-prof-dir=/tmp/prof bench/compare.ts --only=shield --workloads=zipf
//   npx tsx bench/profile-summary.ts /tmp/prof/CPU.*.cpuprofile [--top 30]
//
// Modules: this library's files by path (src/…), dependencies by package name, Node internals as
// "node:internal", and V8's own entries ("(garbage collector)", "(program)", "(idle)") as they are.
import { readFileSync } from "node:fs";
import { renderTable } from "./lib/table.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const topIndex = args.indexOf("--top");
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
const files = args.filter((arg, i) => !arg.startsWith("--") && (topIndex < 0 || i !== topIndex + 1));

for (const file of files) summarise(file, JSON.parse(readFileSync(file, "utf8")) as Profile);

function summarise(file: string, profile: Profile): void {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfUs].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)").reduce((a, [, us]) => a + us, 0);
  const fn = new Map<string, number>();
  const mod = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const module = moduleOf(frame.url, frame.functionName);
    const name = `${frame.functionName || "(anonymous)"}  ${shortUrl(frame.url)}${frame.url ? `:${frame.lineNumber + 1}` : ""}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    mod.set(module, (mod.get(module) ?? 0) + us);
  }
  const busy = total - idle;
  const rows = (map: Map<string, number>) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => [name, (us / 1000).toFixed(0), `${((us / busy) * 100).toFixed(1)} %`]);
  process.stdout.write(`\n${file}\ntotal ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s; shares are of the non-idle time\n\n`);
  process.stdout.write(renderTable([{ header: "module" }, { header: "self ms" }, { header: "share" }], rows(mod)) + "\n\n");
  process.stdout.write(renderTable([{ header: "function  location" }, { header: "self ms" }, { header: "share" }], rows(fn)) + "\n");
}

function moduleOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native / V8 builtins)";
  if (url.startsWith("node:")) return "node:internal";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  const generated = url.indexOf("/prisma/generated/");
  if (generated >= 0) return "prisma/generated (client)";
  const bench = url.indexOf("/bench/");
  if (bench >= 0) return url.slice(bench + 1);
  return url;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const src = url.indexOf("/src/");
  if (src >= 0) return url.slice(src + 1);
  return url.replace(/^file:\/\/.*?\/(bench|test|prisma)\//, "$1/");
}
