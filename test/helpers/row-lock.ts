// A row lock held by another connection: a write to that row waits in the database (after its
// announcement reached Redis) until the test releases it.

interface TransactionClient {
  $transaction<T>(run: (tx: { $queryRaw(strings: TemplateStringsArray, ...values: unknown[]): Promise<unknown> }) => Promise<T>, options?: { timeout?: number }): Promise<T>;
}

/** Locks User `userId` (`SELECT … FOR UPDATE` in an open transaction); `release()` commits and resolves once the lock is gone. */
export async function holdUserRowLock(base: TransactionClient, userId: number): Promise<{ release(): Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let locked!: () => void;
  const lockTaken = new Promise<void>((resolve) => (locked = resolve));
  const holder = base.$transaction(
    async (tx) => {
      await tx.$queryRaw`SELECT id FROM "User" WHERE id = ${userId} FOR UPDATE`;
      locked();
      await released;
    },
    { timeout: 30_000 },
  );
  await lockTaken;
  return {
    async release() {
      release();
      await holder;
    },
  };
}
