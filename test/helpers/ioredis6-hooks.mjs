// Module resolution hooks that load ioredis 6 wherever ioredis 5 would load: the `ioredis6` test
// project (vitest.config.ts) and the child processes it starts run on the other major this way.
// By path, not by name: Vitest resolves a test file's imports to paths before Node loads them.
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier === "ioredis" ? "ioredis6" : specifier, context);
  return resolved.url.includes("/node_modules/ioredis/") ? { ...resolved, url: resolved.url.replace("/node_modules/ioredis/", "/node_modules/ioredis6/") } : resolved;
}
