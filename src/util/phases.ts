// Milliseconds per step of a slow operation (a sandbox start), gathered for one debug log line: where the time goes.

export interface Phases {
  /** Ends the running phase, recording it under `name`; the next phase starts now. */
  mark(name: string): void;
  /** Runs `work` as its own phase, apart from the sequence (steps that overlap others). */
  time<T>(name: string, work: Promise<T>): Promise<T>;
  /** Each phase's milliseconds (one decimal) in the order they ended, and the total since the start. */
  summary(): Record<string, number>;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

export function startPhases(now: () => number = () => performance.now()): Phases {
  const start = now();
  let last = start;
  const spent: Record<string, number> = {};
  const add = (name: string, ms: number): void => {
    spent[name] = round((spent[name] ?? 0) + ms);
  };
  return {
    mark(name) {
      const t = now();
      add(name, t - last);
      last = t;
    },
    time(name, work) {
      const t0 = now();
      const record = (): void => add(name, now() - t0);
      void work.then(record, record);
      return work;
    },
    summary: () => ({ ...spent, totalMs: round(now() - start) }),
  };
}
