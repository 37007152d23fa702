import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Prisma } from "../../prisma/generated/client.ts";
import { Codec } from "../../src/codec/codec.ts";
import { parseBloomMeta } from "../../src/guard/bloom-meta.ts";
import { parseBumpReply } from "../../src/invalidation/bump-sender.ts";
import { ackMessage, invalidationParts, landedMessage, MAX_NAME_LENGTH, parseAck, parseEventMessage } from "../../src/invalidation/wire-format.ts";
import { prismaDecimal } from "../../src/prisma/prisma-values.ts";
import { CorruptEntry, decodePayload, parseEntry, serializeEntry, type CacheEntry } from "../../src/stores/entry.ts";

const codec = new Codec(prismaDecimal);
const RUNS = { numRuns: 2_000 };

/** Text mutations: replace, insert or delete one character, truncate, or splice random text in. */
function mutated(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(valid, fc.nat(), fc.string({ unit: "binary", maxLength: 4 }), fc.constantFrom("replace", "insert", "delete", "truncate", "splice")).map(([text, at, junk, how]) => {
    const i = text.length === 0 ? 0 : at % text.length;
    switch (how) {
      case "replace":
        return text.slice(0, i) + (junk.charAt(0) || "\u0000") + text.slice(i + 1);
      case "insert":
        return text.slice(0, i) + junk + text.slice(i);
      case "delete":
        return text.slice(0, i) + text.slice(i + 1);
      case "truncate":
        return text.slice(0, i);
      default:
        return text.slice(0, i) + junk + text.slice(i + junk.length);
    }
  });
}

const id = fc.uuid();
const versionName = fc.tuple(fc.constantFrom("g", "r", "t", "u", "b"), fc.string({ minLength: 1, maxLength: 40 })).map(([kind, rest]) => `${kind}:${rest}`);
const names = fc.array(versionName, { minLength: 1, maxLength: 8 });
const seq = fc.nat({ max: Number.MAX_SAFE_INTEGER });
const invalidation = fc.tuple(id, id, seq, names).map(([writer, messageId, n, list]) => {
  const { prefix, suffix } = invalidationParts(writer, messageId, list);
  return { text: `${prefix}${n}${suffix}`, writer, messageId, seq: n, names: list };
});
const entryKey = fc.string({ minLength: 1, maxLength: 200 });
const eventText = fc.oneof(invalidation.map((m) => m.text), fc.tuple(entryKey, fc.boolean()).map(([key, landed]) => landedMessage(key, landed)));

/** A parsed event message is one this format could have produced. */
function checkWellFormed(parsed: ReturnType<typeof parseEventMessage>): void {
  if (parsed.kind === "rejected") {
    expect(typeof parsed.reason).toBe("string");
    return;
  }
  if (parsed.kind === "landed") {
    expect(parsed.key.length).toBeGreaterThan(0);
    return;
  }
  expect(Number.isSafeInteger(parsed.seq) && parsed.seq >= 0).toBe(true);
  expect(parsed.writer).toMatch(/^[A-Za-z0-9-]{1,64}$/);
  expect(parsed.messageId).toMatch(/^[A-Za-z0-9-]{1,64}$/);
  for (const name of parsed.names) expect(typeof name === "string" && name.length >= 3 && name.length <= MAX_NAME_LENGTH && name[1] === ":").toBe(true);
}

describe("message parser", () => {
  it("round-trips every message it builds", () => {
    fc.assert(
      fc.property(invalidation, ({ text, writer, messageId, seq: n, names: list }) => {
        expect(parseEventMessage(text)).toEqual({ kind: "invalidation", writer, messageId, seq: n, names: list });
      }),
      RUNS,
    );
    fc.assert(fc.property(entryKey, fc.boolean(), (key, landed) => void expect(parseEventMessage(landedMessage(key, landed))).toEqual({ kind: "landed", key, landed })), RUNS);
    fc.assert(fc.property(id, (messageId) => void expect(parseAck(ackMessage(messageId))).toBe(messageId)), RUNS);
  });

  it("never throws on random text, and accepts only well-formed messages", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        checkWellFormed(parseEventMessage(text));
        const ack = parseAck(text);
        if (typeof ack === "string") expect(ack).toMatch(/^[A-Za-z0-9-]{1,64}$/);
      }),
      RUNS,
    );
    for (const text of [undefined, null, 7, {}, "1|i|", "1|i|a|b|1e300|[]", '1|i|a|b|1|{"a":1}', "1|i|a|b|1|null", '1|i|a|b|-1|["g:U"]', '1|i|a|b|01|["g:U"]', "1|l|"]) {
      expect(parseEventMessage(text as string).kind, String(text)).toBe("rejected");
    }
  });

  it("never throws on mutated valid messages, and what it accepts is well formed", () => {
    fc.assert(
      fc.property(mutated(eventText), (text) => {
        checkWellFormed(parseEventMessage(text));
      }),
      RUNS,
    );
  });
});

const jsonValue = fc.jsonValue({ maxDepth: 3 });
const row = fc.record({
  id: fc.integer(),
  name: fc.string(),
  balance: fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => new Prisma.Decimal(n.toFixed(6))),
  visits: fc.bigInt(),
  at: fc.date({ noInvalidDate: true }),
  bytes: fc.uint8Array({ maxLength: 16 }),
  profile: jsonValue,
});
const entry = fc.tuple(row, fc.nat(), fc.nat(), fc.array(fc.tuple(versionName, seq), { maxLength: 4 })).map(([value, fresh, extra, deps]): CacheEntry => ({
  payload: codec.encode(value),
  freshUntil: fresh,
  staleUntil: fresh + extra,
  loadMs: 3,
  deps,
}));

describe("entry decoder", () => {
  it("round-trips entries and their values", () => {
    fc.assert(
      fc.property(entry, (original) => {
        const parsed = parseEntry(serializeEntry(original));
        expect(parsed).toEqual(original);
        const decoded = decodePayload(codec, (parsed as CacheEntry).payload);
        expect(codec.encode((decoded as { value: unknown }).value)).toBe(original.payload);
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on random text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const parsed = parseEntry(text);
        if (!(parsed instanceof CorruptEntry)) decodePayload(codec, parsed.payload);
        decodePayload(codec, text);
      }),
      RUNS,
    );
  });

  it("a mutated entry is corrupt or exactly the original: never a wrong result", () => {
    const mutatedEntry = entry.chain((original) => mutated(fc.constant(serializeEntry(original))).map((text) => ({ original, text })));
    fc.assert(
      fc.property(mutatedEntry, ({ original, text }) => {
        const parsed = parseEntry(text);
        if (parsed instanceof CorruptEntry) return;
        expect(parsed).toEqual(original);
        const decoded = decodePayload(codec, parsed.payload);
        expect(decoded).not.toBeInstanceOf(CorruptEntry);
        expect(codec.encode((decoded as { value: unknown }).value)).toBe(original.payload);
      }),
      RUNS,
    );
  });

  it("payloads with unknown type tags or broken JSON decode to CorruptEntry", () => {
    for (const payload of ['"\\u0000Zx"', '{"a":"\\u0000Bnot-a-bigint"}', '"\\u0000M"', '"\\u0000Enot json"', "{", "", '{"a":1']) {
      expect(decodePayload(codec, payload), payload).toBeInstanceOf(CorruptEntry);
    }
  });
});

describe("Bloom metadata", () => {
  it("accepts only filters whose metadata and bits are in range", () => {
    expect(parseBloomMeta(["1024", "7", "12", "1700000000000"], 128)).toEqual({ m: 1024, k: 7, built: 12, at: 1700000000000 });
    expect(parseBloomMeta(["", "", "", ""], 0)).toBeUndefined();
    for (const fields of [["abc", "7", "1", "1"], ["1024", "0", "1", "1"], ["1024", "65", "1", "1"], ["1e9", "7", "1", "1"], ["1024", "7", "x", "1"], ["4294967296", "7", "1", "1"]]) {
      expect(typeof parseBloomMeta(fields, 1 << 30), fields.join()).toBe("string");
    }
    expect(typeof parseBloomMeta(["1024", "7", "1", "1"], 127)).toBe("string");
    // Bits evicted under the metadata: said as such, not as a corruption.
    expect(parseBloomMeta(["1024", "7", "1", "1"], 0)).toMatch(/missing \(evicted/);
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary", maxLength: 12 }), { minLength: 4, maxLength: 4 }), fc.nat(), (fields, bits) => {
        const meta = parseBloomMeta(fields, bits);
        if (meta === undefined || typeof meta === "string") return;
        expect(meta.m >= 64 && meta.k >= 1 && meta.k <= 64 && bits >= Math.ceil(meta.m / 8)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe("a bump script's reply", () => {
  it("is five safe integers, or the bump failed: another command's reply (a proxy that mixed replies up) is never destructured", () => {
    expect(parseBumpReply([1_700_000_000_000_001, 2, 0, 7, 1])).toEqual({ seq: 1_700_000_000_000_001, receivers: 2, mixed: 0, bumps: 7, ownStands: 1 });
    for (const reply of [null, "OK", 3, [], [1, 2, 3, 4], [1, 2, 3, 4, "5"], [1, 2, 3, 4, 5, 6], [1.5, 2, 3, 4, 1], [Number.NaN, 0, 0, 1, 1], { 0: 1, 1: 2, 2: 3, 3: 4, 4: 1, length: 5 }]) {
      expect(parseBumpReply(reply), JSON.stringify(reply)).toBeUndefined();
    }
  });
});
