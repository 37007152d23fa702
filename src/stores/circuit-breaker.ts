/** Settings of the circuit breaker around Redis (`circuitBreaker` option). */
export interface CircuitBreakerSettings {
  /** Consecutive failed Redis calls (timeouts, connection errors) that open the circuit. */
  threshold: number;
  /** Milliseconds between probes while the circuit is open. */
  probeIntervalMs: number;
}

export interface CircuitBreakerHooks {
  /** One cheap round trip to Redis, bounded by the store's timeout; resolves when Redis answered. */
  probe(): Promise<unknown>;
  /** The circuit opened (true) or closed again after a successful probe (false). */
  onChange(open: boolean): void;
}

/**
 * Stops paying a timeout per call while Redis is failing: after `threshold` consecutive failures
 * every call fails at once (reads go to the database, writes queue their invalidations) and a
 * probe runs every `probeIntervalMs`; the first probe Redis answers closes the circuit.
 */
export class CircuitBreaker {
  readonly #settings: CircuitBreakerSettings;
  readonly #hooks: CircuitBreakerHooks;
  #failures = 0;
  #open = false;
  #probeTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(settings: CircuitBreakerSettings, hooks: CircuitBreakerHooks) {
    this.#settings = settings;
    this.#hooks = hooks;
  }

  get open(): boolean {
    return this.#open;
  }

  succeeded(): void {
    this.#failures = 0;
  }

  failed(): void {
    if (this.#open || ++this.#failures < this.#settings.threshold) return;
    this.#open = true;
    this.#scheduleProbe();
    this.#hooks.onChange(true);
  }

  /** Stops probing (close()). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#probeTimer);
  }

  #scheduleProbe(): void {
    if (this.#stopped) return;
    this.#probeTimer = setTimeout(() => {
      this.#hooks.probe().then(
        () => this.#close(),
        () => this.#scheduleProbe(),
      );
    }, this.#settings.probeIntervalMs);
    this.#probeTimer.unref();
  }

  #close(): void {
    if (!this.#open || this.#stopped) return;
    this.#open = false;
    this.#failures = 0;
    this.#hooks.onChange(false);
  }
}
