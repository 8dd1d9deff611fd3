// Per-key serialisation inside one process: a call runs after the previous call with the same key has settled
// (resolved or failed), while calls with different keys run side by side. The map forgets idle keys.

export type SerialByKey = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

export function serialByKey(): SerialByKey {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    const run = (tails.get(key) ?? Promise.resolve()).then(fn, fn);
    const tail = run.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}
