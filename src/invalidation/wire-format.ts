import { randomUUID } from "node:crypto";

/**
 * What instances say to each other over pub/sub, in one versioned format checked on receipt.
 * Nothing that arrives from Redis is trusted: another version of this library, a stray PUBLISH
 * or an attacker may send anything, and a message that does not parse is rejected (never thrown).
 *
 *   events channel:  `1|i|<writer>|<messageId>|<seq>|<names as a JSON array of strings>`
 *                    `1|l|<entry key>`   a loader stored the entry: waiters read it
 *                    `1|n|<entry key>`   a loader stored nothing: waiters load by themselves
 *   ack channel:     `1|a|<messageId>`
 *
 * A message id is a UUID, or `q-` and a UUID for an invalidation that wants no acknowledgement
 * (a write's announcement: see WriteAnnouncer). Instances of earlier versions acknowledge it
 * anyway, and a writer ignores acknowledgements of ids it does not wait for.
 */
export const WIRE_VERSION = "1";

/** Instance and message ids are UUIDs; anything that is not an id is refused. */
const ID = /^[A-Za-z0-9-]{1,64}$/;
/** Sequence numbers come from Redis INCR: decimal integers, well inside the safe range. */
const SEQ = /^(0|[1-9][0-9]{0,15})$/;
/** A bump names at most this many versions (bounded work per message). */
export const MAX_NAMES = 100_000;
/** No version name is longer than this (identity tags longer than 512 are hashed). */
export const MAX_NAME_LENGTH = 4_096;
/** Entry keys are namespace, fingerprint, model, operation and at most 160 characters of arguments. */
const MAX_KEY_LENGTH = 1_024;

export type EventMessage =
  | { kind: "invalidation"; writer: string; messageId: string; seq: number; names: string[] }
  | { kind: "landed"; key: string; landed: boolean };

/** A message that was refused, and why (for the error report). */
export interface Rejected {
  kind: "rejected";
  reason: string;
}

/** The channels of one namespace on one logical database (pub/sub ignores SELECT, so db 0 and db 1 would otherwise meet). */
export function channelsOf(prefix: string, db: number): { events: string; ackOf(instanceId: string): string } {
  // Database 0 keeps the plain names, so instances that do not scope channels still hear it.
  const scope = db === 0 ? prefix : `${prefix}:db${db}`;
  return { events: `${scope}:events`, ackOf: (instanceId) => `${scope}:ack:${instanceId}` };
}

/** The text before and after the sequence number, which the bump script inserts. */
export function invalidationParts(writer: string, messageId: string, names: readonly string[]): { prefix: string; suffix: string } {
  return { prefix: `${WIRE_VERSION}|i|${writer}|${messageId}|`, suffix: `|${JSON.stringify(names)}` };
}

export function landedMessage(key: string, landed: boolean): string {
  return `${WIRE_VERSION}|${landed ? "l" : "n"}|${key}`;
}

/** The prefix of a message id that asks for no acknowledgement (a UUID never starts with `q`). */
const UNACKNOWLEDGED = "q-";

export function unacknowledgedMessageId(): string {
  return `${UNACKNOWLEDGED}${randomUUID()}`;
}

/** Whether the writer of an invalidation with this id waits for acknowledgements of it. */
export function wantsAck(messageId: string): boolean {
  return !messageId.startsWith(UNACKNOWLEDGED);
}

export function ackMessage(messageId: string): string {
  return `${WIRE_VERSION}|a|${messageId}`;
}

/** Parses a message of the events channel. */
export function parseEventMessage(text: unknown): EventMessage | Rejected {
  if (typeof text !== "string") return rejected("not text");
  const kind = header(text);
  if (kind === undefined) return rejected("unknown format");
  if (kind === "l" || kind === "n") {
    const key = text.slice(4);
    if (key.length === 0 || key.length > MAX_KEY_LENGTH) return rejected("entry key out of range");
    return { kind: "landed", key, landed: kind === "l" };
  }
  if (kind !== "i") return rejected(`unknown message type "${kind}"`);
  return parseInvalidation(text);
}

/** Parses a message of an ack channel: the id it acknowledges. */
export function parseAck(text: unknown): string | Rejected {
  if (typeof text !== "string" || header(text) !== "a") return rejected("not an acknowledgement");
  const messageId = text.slice(4);
  return ID.test(messageId) ? messageId : rejected("bad message id");
}

function parseInvalidation(text: string): EventMessage | Rejected {
  const writerEnd = text.indexOf("|", 4);
  const idEnd = writerEnd < 0 ? -1 : text.indexOf("|", writerEnd + 1);
  const seqEnd = idEnd < 0 ? -1 : text.indexOf("|", idEnd + 1);
  if (seqEnd < 0) return rejected("truncated invalidation");
  const writer = text.slice(4, writerEnd);
  const messageId = text.slice(writerEnd + 1, idEnd);
  const seqText = text.slice(idEnd + 1, seqEnd);
  if (!ID.test(writer) || !ID.test(messageId)) return rejected("bad writer or message id");
  if (!SEQ.test(seqText) || !Number.isSafeInteger(Number(seqText))) return rejected("sequence number out of range");
  const names = parseNames(text.slice(seqEnd + 1));
  if (names === undefined) return rejected("names are not an array of version names");
  return { kind: "invalidation", writer, messageId, seq: Number(seqText), names };
}

function parseNames(json: string): string[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_NAMES) return undefined;
  for (const name of value) {
    if (typeof name !== "string" || name.length < 3 || name.length > MAX_NAME_LENGTH || name.charCodeAt(1) !== 58 /* : */) return undefined;
  }
  return value as string[];
}

/** The one-letter type of a message in this format, or undefined for any other format. */
function header(text: string): string | undefined {
  if (text.length < 4 || !text.startsWith(WIRE_VERSION) || text.charCodeAt(1) !== 124 || text.charCodeAt(3) !== 124) return undefined;
  return text.charAt(2);
}

function rejected(reason: string): Rejected {
  return { kind: "rejected", reason };
}
