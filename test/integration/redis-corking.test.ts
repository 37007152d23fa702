import { afterEach, describe, expect, it } from "vitest";
import { RedisStore } from "../../src/stores/redis-store.ts";
import { createRedis, uniqueNamespace } from "../helpers/client.ts";

/**
 * The read path's commands of one tick leave in one socket write (each write is a system call),
 * while a bump or a publish is written at once, with whatever the tick held back before it: a
 * write's announcement must be on its way to Redis before the write's SQL.
 */
describe("socket writes of the cache's Redis connection", () => {
  const open: Array<{ disconnect(): void }> = [];
  afterEach(() => {
    for (const redis of open.splice(0)) redis.disconnect();
  });

  /** A connected client whose socket counts the writes that reach the system (`_write`/`_writev` calls). */
  async function countingConnection() {
    const redis = createRedis();
    open.push(redis);
    await redis.ping();
    const stream = (redis as unknown as { stream: { _write: (...args: unknown[]) => void; _writev?: (...args: unknown[]) => void } }).stream;
    const counter = { writes: 0 };
    const write = stream._write.bind(stream);
    stream._write = (...args) => {
      counter.writes++;
      write(...args);
    };
    if (stream._writev !== undefined) {
      const writev = stream._writev.bind(stream);
      stream._writev = (...args) => {
        counter.writes++;
        writev(...args);
      };
    }
    return { redis, store: new RedisStore(redis, 5_000), counter };
  }

  it("five lookups issued in one tick are one socket write, sent before any I/O", async () => {
    const { redis, store, counter } = await countingConnection();
    const key = `${uniqueNamespace()}:k`;
    await redis.set(key, "v");
    counter.writes = 0;
    const replies = Promise.all([store.get(key), store.mget([key, `${key}:absent`]), store.get(key), store.get(key), store.mget([key])]);
    expect(counter.writes, "held back until the tick's callbacks have run").toBe(0);
    await new Promise<void>((resolve) => process.nextTick(resolve));
    expect(counter.writes).toBe(1);
    expect(await replies).toEqual(["v", ["v", null], "v", "v", ["v"]]);
  });

  it("a publish (like a bump) is written at once, after what the tick held back", async () => {
    const { redis, store, counter } = await countingConnection();
    const key = `${uniqueNamespace()}:k`;
    await redis.set(key, "v");
    const monitor = createRedis();
    open.push(monitor);
    const channel = `${key}:channel`;
    await monitor.subscribe(channel);
    const heard = new Promise<string>((resolve) => monitor.on("message", (_channel: string, message: string) => resolve(message)));
    counter.writes = 0;
    const read = store.get(key);
    const published = store.publish(channel, "announced");
    expect(counter.writes, "the lookup and the publish left together, before the tick ended").toBe(1);
    expect(await read).toBe("v");
    expect(await published).toBe(1);
    expect(await heard).toBe("announced");
  });
});
