// A row lock held by another connection: a write to that row waits in the database (after its
// announcement reached Redis) until the test releases it.

interface TransactionClient {
  $queryRaw(strings: TemplateStringsArray, ...values: unknown[]): Promise<unknown>;
  $transaction<T>(run: (tx: { $queryRaw(strings: TemplateStringsArray, ...values: unknown[]): Promise<unknown> }) => Promise<T>, options?: { timeout?: number }): Promise<T>;
}

/** Locks User `userId` (`SELECT … FOR UPDATE` in an open transaction); `release()` commits and resolves once the lock is gone; `blocked()` counts the statements waiting for it. */
export async function holdUserRowLock(base: TransactionClient, userId: number): Promise<{ release(): Promise<void>; blocked(): Promise<number> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: (pid: number) => void;
  const lockTaken = new Promise<number>((resolve) => (locked = resolve));
  const holder = base.$transaction(
    async (tx) => {
      const [{ pid }] = (await tx.$queryRaw`SELECT pg_backend_pid() AS pid FROM "User" WHERE id = ${userId} FOR UPDATE`) as [{ pid: number }];
      locked(pid);
      await released;
    },
    { timeout: 30_000 },
  );
  const pid = await lockTaken;
  return {
    /** How many statements wait for this lock now. */
    async blocked() {
      const [{ n }] = (await base.$queryRaw`SELECT count(*)::int AS n FROM pg_stat_activity WHERE ${pid}::int = ANY(pg_blocking_pids(pid))`) as [{ n: number }];
      return n;
    },
    async release() {
      release();
      await holder;
    },
  };
}
