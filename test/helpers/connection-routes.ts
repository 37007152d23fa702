import { Redis } from "ioredis";

/** Where one connection goes instead of where the client it is duplicated from goes. */
export interface Route {
  host: string;
  port: number;
}

/**
 * Routes the connections the cache duplicates from `redis`: its subscriber (the duplicate asked
 * for `autoResubscribe: false`) and its own command connection (every other duplicate). A route
 * left out goes where `redis` goes. Tests put one of them behind a proxy (a slow link, a half-open
 * flow) while the other stays direct.
 */
export function routeCacheConnections(redis: Redis, routes: { subscriber?: Route; commands?: Route }): void {
  redis.duplicate = (override) => {
    const route = (override as { autoResubscribe?: boolean } | undefined)?.autoResubscribe === false ? routes.subscriber : routes.commands;
    return new Redis({ ...redis.options, ...override, ...route });
  };
}

/** The host and port of a `redis://` URL, as a route. */
export function routeTo(url: string): Route {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || 6379) };
}
