import { isThenable } from "../core/thenable.js";
import { EventEmitter } from "node:events";
import { CacheError, plainMessage } from "../errors.js";
import type { Tier } from "./counters.js";

/** A read served from the cache (`negative`: a cached "not found"). */
export interface HitEvent {
  type: "hit";
  model: string;
  tier: Tier;
  negative: boolean;
}

/** A read the cache could not serve: it went to the database (or joined a load that did). */
export interface MissEvent {
  type: "miss";
  model: string;
}

/** A read answered with a stale value inside the swr window while one refresh runs. */
export interface StaleEvent {
  type: "stale";
  model: string;
}

/** Versions bumped by this instance (`sent`) or announced by any instance, this one included (`received`). */
export interface InvalidationEvent {
  type: "invalidation";
  direction: "sent" | "received";
  /** Models whose entries (all, or some records') were invalidated. */
  models: string[];
  /** User tags invalidated with `$cache.invalidate({ tags })`. */
  tags: string[];
}

/** An error the cache absorbed (the read or write still succeeded); the same as `onError` receives. */
export interface ErrorEvent {
  type: "error";
  error: CacheError;
}

/** A model's hit rate over the window fell below the threshold (`firing`), or recovered (`cleared`). */
export interface LowHitRateEvent {
  type: "alert";
  alert: "lowHitRate";
  state: "firing" | "cleared";
  model: string;
  /** Hit rate over the window, 0 to 1. */
  hitRate: number;
  threshold: number;
  /** Reads of the model within the window. */
  requests: number;
  windowMs: number;
}

export type CacheEvent = HitEvent | MissEvent | StaleEvent | InvalidationEvent | ErrorEvent | LowHitRateEvent;

/** Listener arguments by event name, for the typed emitter. */
export type CacheEventMap = { [K in CacheEvent["type"]]: [event: Extract<CacheEvent, { type: K }>] };

/** What the counters tell whoever listens; set on them only while someone does. */
export interface CounterObserver {
  hit(model: string, tier: Tier, negative: boolean): void;
  miss(model: string): void;
  stale(model: string): void;
  invalidation(direction: "sent" | "received", names: readonly string[]): void;
}

const COUNTED = new Set<string>(["hit", "miss", "stale", "invalidation"]);

/**
 * `$cache.events`: a Node EventEmitter of CacheEvent, one event name per type. Hit, miss, stale
 * and invalidation events cost nothing while nobody listens to them: the emitter attaches itself
 * to the counters only then (`attach`). An `error` event is emitted only to listeners, so an
 * absorbed error never throws as an unhandled `error` event would.
 *
 * The cache's events reach each listener on their own: a listener that throws (or returns a
 * promise that rejects) is reported (`E_LISTENER_FAILED`) and stops neither the other listeners
 * nor the cache's work. Emitted as Node emits, its throw went up into that work — an invalidation
 * received left unapplied and unacknowledged (its L1 then served the old row: outside probe 267),
 * a hit or a miss turned into a failed read.
 */
export class CacheEvents extends EventEmitter<CacheEventMap> implements CounterObserver {
  #attach: ((observer: CounterObserver | undefined) => void) | undefined;
  readonly #listenerFailed: (error: CacheError, event: keyof CacheEventMap) => void;

  /** `listenerFailed`: where a listener's failure is reported (an `error` listener's must not come back to it). */
  constructor(listenerFailed: (error: CacheError, event: keyof CacheEventMap) => void = () => {}) {
    super();
    this.#listenerFailed = listenerFailed;
    this.#watchListeners();
  }

  /** Attaches to the counters when the first counted listener comes (newListener), detaches after the last one left (removeListener). */
  readonly #watches = {
    newListener: (name: string | symbol) => {
      if (COUNTED.has(name as string)) this.#attach?.(this);
    },
    removeListener: () => this.#attach?.(this.#counted() ? this : undefined),
  };

  #watchListeners(): void {
    // The untyped view: Node's own listener events are not CacheEvents.
    const untyped = this as EventEmitter;
    for (const [event, watch] of Object.entries(this.#watches)) if (!untyped.listeners(event).includes(watch)) untyped.on(event, watch);
  }

  /**
   * As Node's, and the watch on listeners comes back: `removeAllListeners()` removes it with
   * everything else, and listeners added after it were never attached (outside probe 268: no
   * hit, miss, stale or invalidation event reached them again).
   */
  override removeAllListeners(...args: Parameters<EventEmitter<CacheEventMap>["removeAllListeners"]>): this {
    super.removeAllListeners(...args);
    this.#watchListeners();
    this.#attach?.(this.#counted() ? this : undefined);
    return this;
  }

  /** Connects the emitter to the counters: `attach(this)` while someone listens, `attach(undefined)` after. */
  observe(attach: (observer: CounterObserver | undefined) => void): void {
    this.#attach = attach;
    attach(this.#counted() ? this : undefined);
  }

  hit(model: string, tier: Tier, negative: boolean): void {
    if (this.listenerCount("hit") > 0) this.#deliver("hit", { type: "hit", model, tier, negative });
  }

  miss(model: string): void {
    if (this.listenerCount("miss") > 0) this.#deliver("miss", { type: "miss", model });
  }

  stale(model: string): void {
    if (this.listenerCount("stale") > 0) this.#deliver("stale", { type: "stale", model });
  }

  invalidation(direction: "sent" | "received", names: readonly string[]): void {
    if (this.listenerCount("invalidation") === 0) return;
    const models = new Set<string>();
    const tags: string[] = [];
    for (const name of names) {
      // Version names: g:/r: model generations, t:Model:… record identities, u: user tags.
      if (name.startsWith("u:")) tags.push(name.slice(2));
      else if (name.startsWith("g:") || name.startsWith("r:")) models.add(name.slice(2));
      else if (name.startsWith("t:")) models.add(name.slice(2, name.indexOf(":", 2)));
    }
    this.#deliver("invalidation", { type: "invalidation", direction, models: [...models], tags });
  }

  error(error: CacheError): void {
    if (this.listenerCount("error") > 0) this.#deliver("error", { type: "error", error });
  }

  alert(event: LowHitRateEvent): void {
    if (this.listenerCount("alert") > 0) this.#deliver("alert", event);
  }

  /** Calls each listener of `name` as `emit` would (`once` ones removed first), each failure reported apart. */
  #deliver<K extends keyof CacheEventMap>(name: K, event: CacheEventMap[K][0]): void {
    for (const listener of this.rawListeners(name) as ((event: CacheEventMap[K][0]) => unknown)[]) {
      try {
        const returned = listener.call(this, event);
        if (isThenable(returned)) returned.then(undefined, (error: unknown) => this.#failed(name, error));
      } catch (error) {
        this.#failed(name, error);
      }
    }
  }

  #failed(name: keyof CacheEventMap, error: unknown): void {
    try {
      this.#listenerFailed(new CacheError("E_LISTENER_FAILED", `a listener of the cache's "${name}" event failed (the cache went on without it): ${plainMessage(error)}`, { cause: error }), name);
    } catch {
      // Telling it failed too: nothing is left to tell, and the cache's work must go on.
    }
  }

  #counted(): boolean {
    for (const name of COUNTED) if (this.listenerCount(name as keyof CacheEventMap) > 0) return true;
    return false;
  }
}
