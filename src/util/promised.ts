/**
 * Runs synchronous work as a promise: what it throws becomes a rejection. For a synchronous
 * write behind an async interface, whose caller may sit in a timer callback, where a throw
 * would end the process.
 */
export function promised<T>(work: () => T | PromiseLike<T>): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
