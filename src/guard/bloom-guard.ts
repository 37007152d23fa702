import { performance } from "node:perf_hooks";
import { CacheClosedError, CacheError } from "../errors.js";
import { FleetLock } from "../core/fleet-lock.js";
import { identityTag, whereIdentityTags } from "../invalidation/dependencies.js";
import { canonicalIdentityValue } from "../invalidation/identity-values.js";
import { argumentView, schemaMember } from "../invalidation/relation-walk.js";
import type { ModelGraph } from "../invalidation/model-graph.js";
import type { Versions } from "../invalidation/versions.js";
import type { Counters } from "../stats/counters.js";
import { BLOOM_BEGIN, BLOOM_FINISH, BLOOM_KEEP, BLOOM_LOAD } from "../stores/redis-scripts.js";
import { CircuitOpenError, type RedisStore } from "../stores/redis-store.js";
import type { Clock } from "../types.js";
import { parseBloomMeta } from "./bloom-meta.js";
import { bloomKeysOf, bloomVersion } from "./bloom-writes.js";
import { BloomFilter } from "./bloom-filter.js";

export interface BloomPolicy {
  /** Target false-positive rate, 0 < p < 1. */
  errorRate: number;
  /** After this long a filter is no longer trusted and is rebuilt (rows written outside the extension). */
  maxAgeMs: number;
}

/** Reads a model's rows page by page (identity fields only); supplied by the adapter. */
export type RowScanner = (model: string, fields: readonly string[]) => AsyncIterable<ReadonlyArray<Record<string, unknown>>>;

export interface BloomGuardParts {
  graph: ModelGraph;
  policies: ReadonlyMap<string, BloomPolicy>;
  versions: Versions;
  /** `ready`: resolves once this instance's copy may answer (its subscription live, lease held, registration answered), or gives up. */
  redis: { store: RedisStore; prefix: string; channel: string; ready: () => Promise<boolean> } | undefined;
  scan: RowScanner;
  count: (model: string) => Promise<number>;
  counters: Counters;
  clock: Clock;
  report: (error: CacheError) => void;
  /**
   * Whether this instance hears of the fleet's writes in time (its L1 lease holds): the filter
   * copy learns created records from their invalidations, so without the lease it answers nothing.
   */
  trusted: () => boolean;
  /**
   * Whether instances of another schema are live in the namespace (a rolling deploy of a schema
   * change): undefined until this instance's registration was answered. Their writes bump the
   * schema epoch, not names this filter knows; a filter guards only at the epoch it was built at,
   * and is not rebuilt while the schemas differ (each write would make it stale again).
   */
  schemasDiffer?: () => boolean | undefined;
  /** The version name of this client's schema epoch (see schemaEpoch). */
  schemaEpoch: string;
  /** Per model, its fields and relation fields: a selection of anything else is Prisma's to refuse. */
  selectable?: ReadonlyMap<string, SelectableFields>;
}

/** A model's fields, and which of them are relations. */
export interface SelectableFields {
  fields: ReadonlySet<string>;
  relations: ReadonlySet<string>;
}

const SELECTIONS = new Set(["select", "include", "omit"]);

/** Whether `value` is a plain object of `true`/`false`/undefined members the model has (with one `true` at least, if `needsTrue`). */
function flagsOf(value: unknown, known: (field: string) => boolean, needsTrue: boolean): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  let anyTrue = false;
  for (const [field, flag] of Object.entries(value)) {
    // Prisma refuses an unknown member even when it is undefined (outside probe 168: `select: { nope: undefined }`).
    if (!known(field)) return false;
    if (flag === undefined) continue;
    if (typeof flag !== "boolean") return false;
    anyTrue ||= flag;
  }
  return anyTrue || !needsTrue;
}

/** A compound unique key's value: a plain object of exactly its fields, each spelled exactly. */
function exactCompound(fields: readonly string[], value: unknown, exact: (field: string, value: unknown) => boolean): boolean {
  const view = argumentView(value);
  if (typeof view !== "object" || view === null || Array.isArray(view)) return false;
  const members = Object.keys(view);
  return members.length === fields.length && fields.every((field) => exact(field, schemaMember(view as object, field)));
}

/** Prisma refuses an `omit` that leaves no field of the model. */
function omitsEveryScalar(omit: Record<string, unknown>, selectable: SelectableFields): boolean {
  for (const field of selectable.fields) if (!selectable.relations.has(field) && omit[field] !== true) return false;
  return true;
}

interface ModelFilter {
  filter: BloomFilter | undefined;
  /** The `b:` version the filter was built at: it guards only while that is still current. */
  builtAt: number;
  /** The schema epoch it was built at (see schemaEpoch): likewise. */
  schemaAt: number;
  /**
   * When it was built, on this instance's clock and on the monotonic clock: it is trusted while
   * both ages are under maxAge, so neither a wall clock stepped back (outside probe 234: a 10-minute
   * step kept it trusted for 10 more minutes) nor an injected clock moved forward stretches it.
   */
  builtTime: number;
  builtMono: number;
  /**
   * Tags learnt while a copy is being loaded or built, one list per load or build running (an
   * explicit rebuild may overlap a refresh), each re-applied to its own copy: a shared list was
   * reset by whichever started last and dropped by whichever finished first (outside probe 106).
   */
  learntWhileLoading: Set<string[]>;
  refreshing: Promise<void> | undefined;
  /** No refresh before this (monotonic ms): a wall clock stepped back would hold it off by its step. */
  nextAttempt: number;
  /** Identities added to the filter since its fill was last measured (see #checkFill). */
  addedSinceFillCheck: number;
}


/**
 * What a build attempt came to: built (or adopted), left to another builder, or held off for
 * `deferredMs` while a write that may create identities unseen is unsettled (see MARKED_FOR).
 */
type BuildAttempt = "built" | "busy" | { deferredMs: number };

const RETRY_MS = 1_000;
/** A filter whose bits give more than this many times its errorRate is rebuilt, sized for today's table. */
const OVERFULL_FACTOR = 2;
/** Its fill is measured after this many additions, or one per 64 bytes of bits for a larger filter (a pass over its bits). */
const FILL_CHECK_ADDITIONS = 256;
const BUILD_LOCK_TTL_MS = 60_000;
/** How often an instance looks again for the filter another instance builds (polled, not woken: one small read). */
const BUILD_WAIT_MS = 200;
/** How far ahead of Redis's clock a filter may be dated and still be aged from then (see #load). */
const FUTURE_DATED_MS = 1_000;
/** What a build stopped by close() was serving, as its CacheClosedError names it. */
const BUILD_CALLERS = "$cache.prepareBloom() or rebuildBloom()";
/** Rows the filter is sized for beyond today's count, so growth does not degrade it at once. */
const GROWTH_HEADROOM = 2;

/**
 * Penetration guard: per model, a Bloom filter of every record identity (`@id`, `@unique`,
 * compound uniques). A unique read whose identity the filter has never seen is answered "not
 * found" without Redis or the database. The fleet shares one filter in Redis: writers add new
 * identities in the same script that bumps versions, and every instance adds them locally from
 * the invalidation message, before the write resolves. Rows that may exist unseen (bulk and nested
 * creates, raw SQL, age) suspend the filter until it is rebuilt.
 */
export class BloomGuard {
  readonly #parts: BloomGuardParts;
  readonly #models = new Map<string, ModelFilter>();
  readonly #lock: FleetLock | undefined;
  /** Set by close(): a background build it abandons fails on closed connections, unreported. */
  #stopped = false;
  /** Builds holding the fleet's build lock, settled once they released it (see stop). */
  readonly #building = new Set<Promise<void>>();

  constructor(parts: BloomGuardParts) {
    this.#parts = parts;
    this.#lock = parts.redis === undefined ? undefined : new FleetLock(parts.redis.store, BUILD_LOCK_TTL_MS, parts.redis.channel);
    for (const model of parts.policies.keys()) {
      this.#models.set(model, { filter: undefined, builtAt: -1, schemaAt: -1, builtTime: 0, builtMono: 0, learntWhileLoading: new Set(), refreshing: undefined, nextAttempt: 0, addedSinceFillCheck: 0 });
    }
  }

  guards(model: string): boolean {
    return this.#models.has(model);
  }

  /** "absent" only when a current filter has never seen the identity the `where` names. */
  check(model: string, args: Record<string, unknown> | undefined): "absent" | "maybe" {
    const state = this.#models.get(model);
    if (state === undefined) return "maybe";
    const where = args?.where;
    const tag = whereIdentityTags(this.#parts.graph, model, where)[0];
    if (tag === undefined) return "maybe";
    if (!this.#usable(model, state)) {
      this.#refreshSoon(model, state);
      return "maybe";
    }
    // A record another instance created is in this copy only once its invalidation arrived: a
    // write resolved while this instance could not hear it may have created the record asked for.
    if (!this.#parts.trusted() || this.#parts.schemasDiffer?.() === undefined) return "maybe";
    // The arguments are checked last, for an answer the guard would give itself: a read of a
    // record that exists (most reads, hits included) goes on at the filter's lookup.
    if (state.filter!.has(tag) || !this.#acceptedWhere(model, where) || !this.#acceptedSelection(model, args)) return "maybe";
    this.#parts.counters.bloomRejects++;
    return "absent";
  }

  /**
   * Whether Prisma certainly accepts every member of `where`: only then may "absent" answer for
   * it. Each must be a field (or a compound unique key of exactly its fields) with a value the
   * cache can spell exactly for the field's type. Anything else — an unknown member (a typo), a
   * null, a value of another type, an unknown enum value, a filter or operator, AND/OR/NOT, a
   * relation — is left to Prisma, which may refuse it (outside probes 79 and 168: `label: 5`,
   * `kind: "NOPE"`, `ver: { gt: "x" }` beside an absent id were answered null).
   */
  #acceptedWhere(model: string, where: unknown): boolean {
    const info = this.#parts.graph.model(model);
    const kinds = info?.fieldKinds;
    const view = argumentView(where);
    if (kinds === undefined || typeof view !== "object" || view === null) return false;
    const exact = (field: string, value: unknown) => {
      const kind = kinds.get(field);
      return kind !== undefined && kind !== "inexact" && kind !== "plain" && canonicalIdentityValue(kind, value) !== undefined;
    };
    for (const key in view) {
      const value = (view as Record<string, unknown>)[key];
      if (value === undefined && (kinds.has(key) || info!.identities.some((identity) => identity.key === key))) continue;
      const compound = info!.identities.find((identity) => identity.fields.length > 1 && identity.key === key);
      if (compound === undefined ? !exact(key, value) : !exactCompound(compound.fields, value, exact)) return false;
    }
    return true;
  }

  /**
   * Whether Prisma certainly accepts the read's other arguments: only then may "absent" answer
   * for it. Any other member, or a selection that is not flags of the model's fields, is left to
   * Prisma, which may refuse it (`select: {}`, `select` with `omit`, a relation's nested `take`):
   * answered `null` here, a wrong query would pass until its record exists.
   */
  #acceptedSelection(model: string, args: Record<string, unknown> | undefined): boolean {
    const selectable = this.#parts.selectable?.get(model);
    if (args === undefined) return true;
    if (selectable === undefined) return false;
    const given = (key: string) => args[key] !== undefined && args[key] !== null;
    // Prisma skips undefined members: `take: undefined` is no argument.
    for (const key in args) if (key !== "where" && !SELECTIONS.has(key) && args[key] !== undefined) return false;
    if (given("select") && (given("include") || given("omit"))) return false;
    return (
      (!given("select") || flagsOf(args.select, (field) => field === "_count" || selectable.fields.has(field), true)) &&
      (!given("include") || flagsOf(args.include, (field) => field === "_count" || selectable.relations.has(field), false)) &&
      (!given("omit") || (flagsOf(args.omit, (field) => selectable.fields.has(field), false) && !omitsEveryScalar(args.omit as Record<string, unknown>, selectable)))
    );
  }

  /** Adds the identity tags among invalidated names to this process's filters. */
  learn(names: readonly string[]): void {
    for (const name of names) {
      if (!name.startsWith("t:")) continue;
      const model = name.slice(2, name.indexOf(":", 2));
      const state = this.#models.get(model);
      if (state === undefined) continue;
      state.filter?.add(name);
      for (const learnt of state.learntWhileLoading) learnt.push(name);
      this.#checkFill(model, state);
    }
  }

  /**
   * A table that outgrew its filter (sized for twice the rows it had) lets more and more absent
   * keys through until maxAge (outside probe 136: 15 % instead of 1 % after the table tripled
   * within the hour): measured now and then as identities are added, an overfull filter is
   * rebuilt in the background (one builder for the fleet; the others adopt its filter). It keeps
   * answering meanwhile: an overfull filter only answers "maybe" more often.
   */
  #checkFill(model: string, state: ModelFilter): void {
    const filter = state.filter;
    if (filter === undefined || ++state.addedSinceFillCheck < Math.max(FILL_CHECK_ADDITIONS, filter.bits.byteLength / 64)) return;
    state.addedSinceFillCheck = 0;
    if (this.#overfull(model, filter)) this.#refreshSoon(model, state);
  }

  #overfull(model: string, filter: BloomFilter | undefined): boolean {
    return filter !== undefined && filter.currentErrorRate() > OVERFULL_FACTOR * this.#parts.policies.get(model)!.errorRate;
  }

  /** Loads the shared filter of every guarded model, building those that are missing or stale. */
  async prepare(): Promise<void> {
    // A filter loaded before the subscription is live would be distrusted the moment it is; and a
    // copy answers nothing until the lease holds and the registration was answered (see check).
    await this.#parts.redis?.ready();
    await Promise.all([...this.#models.keys()].map((model) => this.#refresh(model, this.#models.get(model)!, false)));
  }

  /**
   * Rebuilds a model's filter from its table now, one builder for the fleet. The caller has
   * suspended every instance's copy first (see rebuildBloom): a build another instance started
   * before that is stored at the old version, which nobody adopts. While another instance
   * builds, this one waits for its filter and adopts it if it was built since the suspension,
   * else builds (outside probe 221: a rebuild while another instance held the lock resolved
   * having rebuilt nothing).
   */
  async rebuild(model: string): Promise<void> {
    await this.#buildOrAdopt(model, this.#models.get(model)!);
  }

  /**
   * Builds the filter, or, while another instance builds it, waits to adopt what it stores (or to
   * build once its lock is free). No deadline while that builder lives (it extends its lock): a
   * large table's build takes as long as it takes. A builder that stopped extending it (killed,
   * frozen) is not waited for until its lock expires (outside probe 222: 60 s): this instance's copy
   * stays without a filter, answering nothing, and a read loads one in the background once some
   * instance built it (after a rebuild's suspension, none answers from an older one meanwhile).
   * Held off by unsettled writes (see MARKED_FOR), it waits for those standing when it first asked;
   * if others stand by then, it gives up the same way: writes of unknown outcome that keep coming
   * (a client timeout shorter than a slow trigger) held prepareBloom() for as long as they came
   * (outside probe 256). A read builds it in the background once they settled.
   */
  async #buildOrAdopt(model: string, state: ModelFilter): Promise<void> {
    // Only after waiting for another builder is there a filter to adopt under the lock (the caller
    // has just looked; looking again reported a corrupt one twice).
    let waited = false;
    let heldOff = false;
    for (let attempt = await this.#build(model, state, waited); attempt !== "built"; attempt = await this.#build(model, state, waited)) {
      waited = true;
      if (attempt !== "busy") {
        if (heldOff) {
          state.nextAttempt = performance.now() + attempt.deferredMs;
          return;
        }
        heldOff = true;
      }
      // A write of unknown outcome may still commit (at most lateCommitWindow): the table is scanned after that.
      await new Promise((resolve) => setTimeout(resolve, attempt === "busy" ? BUILD_WAIT_MS : attempt.deferredMs));
      if (this.#stopped) throw new CacheClosedError(BUILD_CALLERS);
      if (await this.#load(model, state)) return;
      // A free lock is tried again (a builder held off by unsettled writes released it: outside probe 259,
      // a rebuildBloom() beside another's held-off one resolved having built nothing); a stalled holder is not waited for.
      if (attempt === "busy" && (await this.#lock!.holderStalled(this.#keys(model).lock))) return;
    }
  }

  /** After missed invalidation messages, local filters may lack identities: reload them all. */
  distrustAll(): void {
    for (const [model, state] of this.#models) {
      if (state.filter === undefined) continue;
      state.builtAt = -1;
      state.nextAttempt = 0;
      this.#refreshSoon(model, state);
    }
  }

  /**
   * The cache closes: builds still running stop at their next page and release their lock while
   * the connections are open (resolves once they did); their failures are not reported. Abandoned
   * holding it, the lock kept every other instance's rebuildBloom() and prepareBloom() waiting
   * until it expired (outside probe 222: 55–65 s).
   */
  stop(): Promise<unknown> {
    this.#stopped = true;
    return Promise.allSettled(this.#building);
  }

  #usable(model: string, state: ModelFilter): boolean {
    if (state.filter === undefined) return false;
    if (this.#parts.versions.known(bloomVersion(model)) !== state.builtAt) return false;
    if (this.#parts.redis !== undefined && this.#parts.versions.known(this.#parts.schemaEpoch) !== state.schemaAt) return false;
    const age = Math.max(this.#parts.clock.now() - state.builtTime, performance.now() - state.builtMono);
    return age < this.#parts.policies.get(model)!.maxAgeMs;
  }

  #refreshSoon(model: string, state: ModelFilter): void {
    if (state.refreshing !== undefined || performance.now() < state.nextAttempt) return;
    state.nextAttempt = performance.now() + RETRY_MS;
    void this.#refresh(model, state, true);
  }

  #refresh(model: string, state: ModelFilter, background: boolean): Promise<void> {
    state.refreshing ??= (async () => {
      try {
        // The shared filter may be as overfull as this copy was: then this instance builds it anew.
        // prepareBloom() waits for another instance's build (instances starting together: one builds,
        // the others resolved with no filter, answering nothing until a read refreshed it a second later).
        const loaded = await this.#load(model, state);
        if ((!loaded || this.#overfull(model, state.filter)) && this.#parts.schemasDiffer?.() !== true) {
          if (!background) await this.#buildOrAdopt(model, state);
          else {
            const attempt = await this.#build(model, state);
            // Another instance builds it: look again soon, not a RETRY_MS later (outside probe 222: up
            // to a second of reads past the guard after a rebuild elsewhere); a look costs a small read.
            if (attempt === "busy") state.nextAttempt = Math.min(state.nextAttempt, performance.now() + BUILD_WAIT_MS);
            // Held off: not before the unsettled write's marks lapse (reads go past the guard meanwhile).
            else if (attempt !== "built") state.nextAttempt = performance.now() + attempt.deferredMs;
          }
        }
      } catch (error) {
        if (!background) throw error;
        // Abandoned by close() (outside probe 136: "connection is end" reported after every close during a build).
        // Nor while the circuit is open: the failures that opened it were reported, and a retry a
        // second per model only repeats them (outside probe 166).
        if (this.#stopped || error instanceof CircuitOpenError) return;
        this.#parts.report(new CacheError("E_BLOOM_REFRESH", `Bloom filter of ${model} could not be refreshed: ${String((error as Error)?.message ?? error)}`, { cause: error }));
      } finally {
        state.refreshing = undefined;
      }
    })();
    return state.refreshing;
  }

  /** Adopts the filter stored in Redis if it is current; false if there is none to adopt. */
  async #load(model: string, state: ModelFilter): Promise<boolean> {
    const redis = this.#parts.redis;
    if (redis === undefined) return false;
    const keys = this.#keys(model);
    const learnt: string[] = [];
    state.learntWhileLoading.add(learnt);
    try {
      let sentAt = 0;
      const reply = (await this.#parts.versions.readStamped((stamp) => {
        sentAt = stamp;
        return redis.store.runForBuffers(BLOOM_LOAD, [keys.liveMeta, keys.liveBits, this.#parts.versions.keyOf(bloomVersion(model)), this.#parts.versions.keyOf(this.#parts.schemaEpoch)], []);
      })) as Buffer[];
      const current = Number(reply[6]!.toString());
      this.#parts.versions.observe(bloomVersion(model), current, sentAt);
      const [schemaAt, schemaNow] = [reply[7]!.toString(), Number(reply[8]!.toString())];
      this.#parts.versions.observe(this.#parts.schemaEpoch, schemaNow, sentAt);
      // Built at other versions: Redis sent no bits (see BLOOM_LOAD), and it is rebuilt anyway.
      const builtText = reply[2]!.toString();
      if (builtText === "" || Number(builtText) !== current || Number(schemaAt) !== schemaNow) return false;
      // Built by an earlier version, which did not hold off while writes that suspended it were unsettled: rebuilt.
      if (reply[10]?.toString() !== "1") return false;
      const meta = parseBloomMeta(reply.slice(0, 4).map((part) => part.toString()), reply[5]!.byteLength);
      if (typeof meta === "string") {
        // Rebuilt by the caller: a corrupt filter must never answer "absent".
        this.#parts.counters.corruptEntries++;
        this.#parts.report(new CacheError("E_CORRUPT_ENTRY", `Bloom filter of ${model} in Redis cannot be used (${meta}): rebuilding it`));
        return false;
      }
      if (meta === undefined || meta.built !== current) return false;
      // Its age on Redis's clock, which dated it: instances' clocks may disagree with the builder's.
      // One dated ahead of that clock (beyond what synced clocks differ by) has no age to trust — a
      // builder of the previous version dated it on its own clock, or Redis's went back — and is
      // rebuilt: taken as new, it was adopted again at every maxAge until its keys expired (outside
      // probe 238: 2 × maxAge).
      const age = Number(reply[9]!.toString()) - meta.at;
      if (age < -FUTURE_DATED_MS || age >= this.#parts.policies.get(model)!.maxAgeMs) return false;
      if (schemaAt !== String(schemaNow)) return false;
      const filter = new BloomFilter(meta.m, meta.k, new Uint8Array(Math.ceil(meta.m / 8)));
      filter.bits.set(reply[5]!.subarray(0, filter.bits.byteLength));
      for (const tag of learnt) filter.add(tag);
      const aged = Math.max(0, age);
      Object.assign(state, { filter, builtAt: current, schemaAt: schemaNow, builtTime: this.#parts.clock.now() - aged, builtMono: performance.now() - aged });
      return true;
    } finally {
      state.learntWhileLoading.delete(learnt);
    }
  }

  /**
   * Streams the table by primary key into a new filter (one page in memory at a time). With
   * Redis, one instance builds for the fleet: writers extend the "next" filter meanwhile, and the
   * scanned bits are merged into it before it goes live.
   */
  async #build(model: string, state: ModelFilter, adoptCurrent = false): Promise<BuildAttempt> {
    const { versions, redis } = this.#parts;
    if (this.#stopped) throw new CacheClosedError(BUILD_CALLERS);
    const learnt: string[] = [];
    let keeper: NodeJS.Timeout | undefined;
    let released!: () => void;
    const releasing = new Promise<void>((resolve) => (released = resolve));
    // Counted before the lock is asked for: close() waits for a lock taken while it began, and
    // releases it (outside probe 266: a build that took it as close() ran left it 60 s, and the
    // fleet's guard answered nothing that long).
    this.#building.add(releasing);
    let held: Awaited<ReturnType<FleetLock["acquire"]>> | undefined;
    try {
      held = redis === undefined ? undefined : await this.#lock!.acquire(this.#keys(model).lock, "");
      if (redis !== undefined && held === undefined) return "busy"; // another instance is building it
      if (this.#stopped) throw new CacheClosedError(BUILD_CALLERS);
      // A waiter that takes the lock after the builder it waited for stored its filter adopts that (built since any suspension: current).
      if (adoptCurrent && (await this.#load(model, state))) return "built";
      const [builtAt, schemaAt] = redis === undefined ? [versions.known(bloomVersion(model)) ?? 0, 0] : await versions.fetch([bloomVersion(model), this.#parts.schemaEpoch]);
      const rows = await this.#parts.count(model);
      const identities = this.#parts.graph.model(model)?.identities ?? [];
      // Every identity of every row is one item.
      const items = Math.max(1_000, rows * Math.max(1, identities.length) * GROWTH_HEADROOM);
      const filter = BloomFilter.sized(items, this.#parts.policies.get(model)!.errorRate);
      const keys = this.#keys(model);
      const versionKey = redis === undefined ? "" : versions.keyOf(bloomVersion(model));
      if (redis !== undefined) {
        const begun = await redis.store.run(BLOOM_BEGIN, [keys.nextMeta, keys.nextBits, keys.lock, versionKey], [filter.m, filter.k, BUILD_LOCK_TTL_MS, held!.token]);
        // The lock passed to another builder (this one stalled past its lifetime): that one builds.
        if (begun !== 1) return deferral(begun) ?? "busy";
      }
      state.learntWhileLoading.add(learnt);
      if (redis !== undefined) {
        keeper = setInterval(() => void redis.store.run(BLOOM_KEEP, [keys.nextMeta, keys.nextBits, keys.lock], [held!.token, BUILD_LOCK_TTL_MS]).catch(() => undefined), BUILD_LOCK_TTL_MS / 3);
        keeper.unref();
      }
      const fields = [...new Set(identities.flatMap((identity) => identity.fields))];
      for await (const page of this.#parts.scan(model, fields)) {
        if (this.#stopped) throw new CacheClosedError(BUILD_CALLERS);
        for (const row of page) {
          for (const identity of identities) {
            const values = identity.fields.map((field) => row[field]);
            const tag = values.some((value) => value === null || value === undefined) ? undefined : identityTag(model, identity, values);
            if (tag !== undefined) filter.add(tag);
          }
        }
      }
      const [builtTime, builtMono] = [this.#parts.clock.now(), performance.now()];
      if (redis !== undefined) {
        const scannedBits = `${keys.scannedBits}:${held!.token}`;
        await redis.store.setBuffer(scannedBits, Buffer.from(filter.bits), BUILD_LOCK_TTL_MS);
        const finished = await redis.store.run(BLOOM_FINISH, [keys.nextMeta, keys.nextBits, keys.liveMeta, keys.liveBits, scannedBits, keys.lock, versionKey], [builtAt!, rows, schemaAt!, 2 * this.#parts.policies.get(model)!.maxAgeMs, held!.token]);
        const deferred = deferral(finished);
        if (deferred !== undefined) return deferred;
        if (finished === -1) return "busy";
        if (finished !== 1) throw new CacheError("E_BLOOM_BUILD", `Bloom rebuild of ${model} was dropped: its keys in Redis expired (the rebuild outlived its lock) or were evicted`);
      }
      for (const tag of learnt) filter.add(tag);
      Object.assign(state, { filter, builtAt: builtAt!, schemaAt: schemaAt!, builtTime, builtMono });
      this.#parts.counters.bloomBuilds++;
      return "built";
    } finally {
      clearInterval(keeper);
      state.learntWhileLoading.delete(learnt);
      try {
        await held?.release();
      } finally {
        this.#building.delete(releasing);
        released();
      }
    }
  }

  #keys(model: string) {
    return bloomKeysOf(String(this.#parts.redis?.prefix), this.#parts.graph, model);
  }
}

/** BLOOM_BEGIN's or BLOOM_FINISH's `{ 'marked', ms }` reply (see MARKED_FOR) as a deferral; undefined for any other reply. */
function deferral(reply: unknown): { deferredMs: number } | undefined {
  if (!Array.isArray(reply) || String(reply[0]) !== "marked") return undefined;
  return { deferredMs: Math.max(1, Number(reply[1])) };
}
