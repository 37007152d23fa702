/** A connection the application owns, as far as listening to it goes. */
export interface ListenedSource {
  on(event: string, listener: () => void): unknown;
  removeListener?(event: string, listener: () => void): unknown;
}

/** One event's listener on a connection, and the handlers it calls. */
interface SharedListener {
  handlers: Set<() => void>;
  listener: () => void;
}

/** Per connection, per event: the handlers of every cache of the process that listens to it. */
const shared = new WeakMap<object, Map<string, SharedListener>>();

/**
 * Listens to `event` on a connection the application owns, through one listener per event shared
 * by every cache of the process: a listener per cache would make Node warn
 * (`MaxListenersExceededWarning`) from the eleventh cache sharing one ioredis client on — a
 * database per tenant has more. Returns the function that stops listening.
 */
export function listenShared(source: ListenedSource, event: string, handler: () => void): () => void {
  let events = shared.get(source);
  if (events === undefined) {
    events = new Map();
    shared.set(source, events);
  }
  let entry = events.get(event);
  if (entry === undefined) {
    const handlers = new Set<() => void>();
    entry = { handlers, listener: () => [...handlers].forEach((registered) => registered()) };
    events.set(event, entry);
    source.on(event, entry.listener);
  }
  entry.handlers.add(handler);
  const added = entry;
  return () => {
    added.handlers.delete(handler);
    // The last cache closed: nothing of ours stays on the application's connection.
    if (added.handlers.size > 0 || events.get(event) !== added) return;
    events.delete(event);
    source.removeListener?.(event, added.listener);
  };
}
