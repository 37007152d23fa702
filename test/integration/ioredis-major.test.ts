import { expect, it } from "vitest";
import { runChild } from "../helpers/child-process.ts";
import { createRedis } from "../helpers/client.ts";

// vitest.config.ts runs part of the suite a second time on ioredis 6 through module hooks: this
// keeps that run from passing on ioredis 5 unnoticed (a hook that stopped applying, say).
const major = Number(process.env.PCS_TEST_IOREDIS);

it("runs on the ioredis major its project names, and so do the processes it starts", async () => {
  expect([5, 6]).toContain(major);
  const redis = createRedis();
  try {
    expect((redis.options as { protocol?: number }).protocol === 3 ? 6 : 5).toBe(major);
  } finally {
    redis.disconnect();
  }
  expect(await runChild<{ major: number }>("ioredis-major.ts", {})).toEqual({ major });
});
