/** A connection the application owns, as far as listening to it goes. */
export interface ListenedSource {
  on(event: string, listener: () => void): unknown;
}

/** Per connection, per event: the handlers of every cache of the process that listens to it. */
const shared = new WeakMap<object, Map<string, Set<() => void>>>();

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
  let handlers = events.get(event);
  if (handlers === undefined) {
    const registered = new Set<() => void>();
    handlers = registered;
    events.set(event, registered);
    source.on(event, () => {
      for (const registeredHandler of [...registered]) registeredHandler();
    });
  }
  handlers.add(handler);
  const added = handlers;
  return () => void added.delete(handler);
}
