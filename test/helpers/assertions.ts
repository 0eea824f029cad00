/** What `fn` throws; fails the test if it returns normally. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

/** What `fn` throws, which must be an instance of `type`; fails the test otherwise. */
export function thrownAs<T>(type: abstract new (...args: never[]) => T, fn: () => unknown): T {
  const error = thrown(fn);
  if (!(error instanceof type)) {
    throw new Error(`expected a ${type.name}, got ${String(error)}`, { cause: error });
  }
  return error;
}

/** What `promise` rejects with; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
