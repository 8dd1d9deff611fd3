// Group commit for the gateway's per-request records. Every proxied request writes an audit entry and every
// model call a usage row; one SQLite commit each was the largest cost per request under load. Records queued
// while the event loop handles one batch of I/O are committed together right after it (setImmediate), and each
// caller's promise settles only once its record is on disk, so an egress allow can still wait for its audit
// entry before anything is forwarded.
import type { Store } from '../store/types.ts';
import { errorMessage } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';

type AuditRecord = Parameters<Store['appendAudit']>[0];
type UsageRecord = Parameters<Store['recordUsage']>[0];

type Job = { write: () => void; resolve: () => void; reject: (err: unknown) => void };

export interface WriteBatcher {
  audit(e: AuditRecord): Promise<void>;
  usage(u: UsageRecord): Promise<void>;
  /** Commits what is queued now; called before the store closes. */
  flush(): void;
  /** How many commits and records so far, for tests and the bench. */
  stats(): { commits: number; records: number };
}

export function createWriteBatcher(
  store: Pick<Store, 'atomically' | 'appendAudit' | 'recordUsage'>,
  log: Logger,
): WriteBatcher {
  let queue: Job[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let commits = 0;
  let records = 0;

  const settleEach = (jobs: Job[]): void => {
    // The batch failed as a whole: write each on its own so one bad record fails only its own caller.
    for (const job of jobs) {
      try {
        store.atomically(job.write);
        commits++;
        records++;
        job.resolve();
      } catch (err) {
        log.error('a gateway record could not be written', { error: errorMessage(err) });
        job.reject(err);
      }
    }
  };

  const flush = (): void => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    const jobs = queue;
    queue = [];
    if (jobs.length === 0) return;
    try {
      store.atomically(() => {
        for (const job of jobs) job.write();
      });
    } catch {
      settleEach(jobs);
      return;
    }
    commits++;
    records += jobs.length;
    for (const job of jobs) job.resolve();
  };

  const enqueue = (write: () => void): Promise<void> =>
    new Promise((resolve, reject) => {
      queue.push({ write, resolve, reject });
      scheduled ??= setImmediate(flush);
    });

  return {
    audit: (e) => enqueue(() => void store.appendAudit(e)),
    usage: (u) => enqueue(() => store.recordUsage(u)),
    flush,
    stats: () => ({ commits, records }),
  };
}
