import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/**
 * The README's Redis ACL paragraph is what an operator grants: a command the scripts call and the
 * list lacks is a lasting failure on such a server (outside probe 182: `HGETALL` and `STRLEN`).
 */
describe("the README's ACL command list", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const src = new URL("../../src/", import.meta.url);
  const scripts = readdirSync(src, { recursive: true, encoding: "utf8" })
    .filter((path) => path.endsWith(".ts"))
    .map((path) => readFileSync(new URL(path, src), "utf8"))
    .join("\n");
  const listed = (marker: string) => {
    const start = readme.indexOf(marker);
    expect(start, marker).toBeGreaterThan(-1);
    const list = readme.slice(start, readme.indexOf(")", start));
    return new Set([...list.matchAll(/`([A-Z]+)`/g)].map((match) => match[1]));
  };

  it("names every command the Lua scripts call, and none they do not", () => {
    const called = new Set([...scripts.matchAll(/redis\.p?call\(['"]([A-Za-z]+)['"]/g)].map((match) => match[1]!.toUpperCase()));
    expect(called.size).toBeGreaterThan(20);
    expect([...listed("those its Lua scripts call (")].sort()).toEqual([...called].sort());
  });
});
