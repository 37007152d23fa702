/**
 * The cached form of a "not found" error (`findUniqueOrThrow`, `findFirstOrThrow`): enough to
 * throw the same error again without asking the database. The codec carries it as its own type.
 */
export class NotFoundMarker {
  constructor(readonly detail: { message: string; code: string; meta?: Record<string, unknown> }) {}
}
