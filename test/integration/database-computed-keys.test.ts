import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { createSecondCachedClient, SECOND_MODELS, secondFleet } from "../helpers/second-client.ts";
import { uniqueNamespace } from "../helpers/client.ts";

/**
 * Unique values the database computes (the second schema's `Ticket.codeKey`, a column generated
 * as `lower(code)`): an update by id that changes `code` re-keys the record, and neither its
 * arguments nor its result show the key it had (outside probe 122).
 */
describe("unique keys the database computes", () => {
  const fleet = secondFleet();
  const base = fleet.writer.base;
  afterAll(() => fleet.close());
  const code = () => `Code-${randomUUID().slice(0, 8)}`;

  it("a read by a generated unique key is not served its old row once an update of another field re-keyed the record", async () => {
    const ticket = await base.ticket.create({ data: { code: code() } });
    const renamed = code();
    expect(await fleet.expectFresh((p) => p.ticket.findUnique({ where: { codeKey: ticket.codeKey } }), (p) => p.ticket.update({ where: { id: ticket.id }, data: { code: renamed } }))).toBeNull();
    expect(await fleet.viaL1.prisma.ticket.findUnique({ where: { codeKey: renamed.toLowerCase() } })).toMatchObject({ id: ticket.id });
  });

  it("the same through the record's other unique key, updateMany and upsert's update", async () => {
    const bySerial = await base.ticket.create({ data: { code: code() } });
    expect(await fleet.expectFresh((p) => p.ticket.findUnique({ where: { codeKey: bySerial.codeKey } }), (p) => p.ticket.update({ where: { serial: bySerial.serial }, data: { code: code() } }))).toBeNull();
    const byMany = await base.ticket.create({ data: { code: code() } });
    expect(await fleet.expectFresh((p) => p.ticket.findUnique({ where: { codeKey: byMany.codeKey } }), (p) => p.ticket.updateMany({ where: { id: byMany.id }, data: { code: code() } }))).toBeNull();
    const byUpsert = await base.ticket.create({ data: { code: code() } });
    expect(await fleet.expectFresh((p) => p.ticket.findUnique({ where: { codeKey: byUpsert.codeKey } }), (p) => p.ticket.upsert({ where: { id: byUpsert.id }, create: { code: code() }, update: { code: code() } }))).toBeNull();
  });

  it("the Bloom guard learns the new key: no instance answers \"not found\" for the re-keyed record, a new one neither", async () => {
    const namespace = uniqueNamespace();
    const models = { ...SECOND_MODELS, Ticket: { bloom: true } };
    const [writer, other] = [createSecondCachedClient({ namespace, models }), createSecondCachedClient({ namespace, models })];
    try {
      const ticket = await writer.base.ticket.create({ data: { code: code() } });
      await Promise.all([writer.prisma.$cache.prepareBloom(), other.prisma.$cache.prepareBloom()]);
      const [renamed, again] = [code(), code()];
      await writer.prisma.ticket.update({ where: { id: ticket.id }, data: { code: renamed } });
      const fresh = createSecondCachedClient({ namespace, models });
      try {
        await fresh.prisma.$cache.prepareBloom();
        for (const instance of [writer, other, fresh]) {
          expect(await instance.prisma.ticket.findUnique({ where: { codeKey: renamed.toLowerCase() } })).toMatchObject({ id: ticket.id });
          expect(instance.prisma.$cache.stats().bloomRejects).toBe(0);
        }
        // A result without the key (select) names nothing to learn: the filter is suspended instead.
        await writer.prisma.ticket.update({ where: { id: ticket.id }, data: { code: again }, select: { id: true } });
        for (const instance of [writer, other, fresh]) expect(await instance.prisma.ticket.findUnique({ where: { codeKey: again.toLowerCase() } })).toMatchObject({ id: ticket.id });
      } finally {
        await fresh.close();
      }
    } finally {
      await Promise.all([writer.close(), other.close()]);
    }
  });
});
