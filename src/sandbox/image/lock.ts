// One builder per image at a time, across processes: an O_EXCL lock file holding the builder's pid.
// The lock only saves work: a build renames its result into place atomically, so a lost race never corrupts.
import fs from 'node:fs';
import os from 'node:os';
import { CorralError } from '../../util/errors.ts';

export const LOCK_POLL_MS = 300;

interface Holder {
  pid: number;
  host: string;
  since: string;
}

export interface LockWait {
  holderPid: number;
}

function readHolder(file: string): Holder | undefined {
  try {
    const raw: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof raw !== 'object' || raw === null) return undefined;
    const pid = 'pid' in raw ? raw.pid : undefined;
    const host = 'host' in raw ? raw.host : undefined;
    const since = 'since' in raw ? raw.since : undefined;
    if (typeof pid !== 'number' || typeof host !== 'string' || typeof since !== 'string') return undefined;
    return { pid, host, since };
  } catch {
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else
    return err instanceof Error && 'code' in err && err.code === 'EPERM';
  }
}

/** A lock whose holder is gone: a dead pid on this host, or a file too old or unreadable to trust. */
function isStale(file: string, holder: Holder | undefined, staleAfterMs: number): boolean {
  if (holder !== undefined && holder.host === os.hostname()) return !pidAlive(holder.pid);
  try {
    return Date.now() - fs.statSync(file).mtimeMs > staleAfterMs;
  } catch {
    return false;
  }
}

/** Removes a stale lock unless someone replaced it meanwhile (then that fresh lock is put back). */
function breakStale(file: string, seen: Holder | undefined): void {
  const aside = `${file}.stale-${process.pid}-${Date.now()}`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return; // someone else broke it first
  }
  const moved = readHolder(aside);
  if (seen !== undefined && moved !== undefined && (moved.pid !== seen.pid || moved.since !== seen.since)) {
    try {
      fs.linkSync(aside, file);
    } catch {
      // a third process holds the lock now; the fresh holder it replaced will rebuild at worst
    }
  }
  fs.rmSync(aside, { force: true });
}

function tryCreate(file: string): boolean {
  try {
    const fd = fs.openSync(file, 'wx', 0o644);
    const holder: Holder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
    fs.writeSync(fd, JSON.stringify(holder));
    fs.closeSync(fd);
    return true;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'EEXIST') return false;
    throw err;
  }
}

export interface LockOptions {
  /** called about every LOCK_POLL_MS while another live process holds the lock */
  onWait?: (w: LockWait) => void;
  /** stop waiting after this long */
  timeoutMs: number;
  /** a lock of another host (shared cache) counts as abandoned after this long */
  staleAfterMs: number;
  /** checked while waiting: when it returns a value the wait ends without taking the lock */
  done?: () => boolean;
  signal?: AbortSignal;
}

/** Takes the lock (returns its release) or returns undefined when `done()` became true while waiting. */
export async function acquireLock(file: string, opts: LockOptions): Promise<(() => void) | undefined> {
  const started = Date.now();
  for (;;) {
    opts.signal?.throwIfAborted();
    if (opts.done?.() === true) return undefined;
    if (tryCreate(file)) {
      return () => {
        const h = readHolder(file);
        if (h?.pid === process.pid) fs.rmSync(file, { force: true });
      };
    }
    const holder = readHolder(file);
    if (isStale(file, holder, opts.staleAfterMs)) {
      breakStale(file, holder);
      continue;
    }
    if (Date.now() - started > opts.timeoutMs) {
      throw new CorralError(
        'image_lock_timeout',
        `another process (pid ${holder?.pid ?? '?'}) has been building the base image for too long`,
        `check that process; if it is gone, remove ${file}`,
      );
    }
    opts.onWait?.({ holderPid: holder?.pid ?? 0 });
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
}
