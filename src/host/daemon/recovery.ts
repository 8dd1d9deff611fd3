// What a host does when it starts after a crash: remove what sandboxes left behind (each backend's reap, then
// the daemon's own run directories), and put every unfinished message back in the queue or fail it with a
// reason the user sees. Nothing is dropped silently.
import fs from 'node:fs';
import path from 'node:path';
import type { SandboxRegistry } from '../../sandbox/registry.ts';
import type { InboundRow, OutboxInsert } from '../../store/daemon-types.ts';
import type { Store } from '../../store/types.ts';
import { errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';

/** A message interrupted this many times by a host crash is not run again (it may be what crashes it). */
export const MAX_ATTEMPTS = 2;
export const INTERRUPTED = 'interrupted: the host stopped while this message was running';

/** Mount points (from /proc/self/mountinfo) at or below `dir`. */
function mountsUnder(dir: string): string[] {
  let info: string;
  try {
    info = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return [];
  }
  const decode = (p: string): string =>
    p.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return info
    .split('\n')
    .map((line) => decode(line.split(' ')[4] ?? ''))
    .filter((mp) => mp === dir || mp.startsWith(dir + '/'));
}

/**
 * Removes sandbox run directories a killed daemon left. Only this daemon launches under `runDir` (the home is
 * claimed first), and never through a mount: a directory with anything still mounted below it is kept.
 */
export function removeStaleRunDirs(runDir: string, log: Logger): string[] {
  let names: string[];
  try {
    names = fs.readdirSync(runDir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const dir = path.join(runDir, name);
    const st = fs.lstatSync(dir);
    if (!st.isDirectory()) continue;
    const mounted = mountsUnder(dir);
    if (mounted.length > 0) {
      log.warn('leftover sandbox directory still has mounts; not removed', { dir, mounts: mounted });
      continue;
    }
    fs.rmSync(dir, { recursive: true, force: true }); // rm removes links, never follows them
    removed.push(dir);
  }
  return removed;
}

export async function recoverAfterCrash(deps: {
  store: Store;
  sandboxes: SandboxRegistry;
  runDir: string;
  log: Logger;
  outboxFor: (row: InboundRow, error: string) => OutboxInsert[];
}): Promise<{ reaped: string[]; requeued: InboundRow[]; failed: InboundRow[] }> {
  const { log } = deps;
  const reaped: string[] = [];
  for (const backend of deps.sandboxes.list()) {
    if (backend.reap === undefined) continue;
    try {
      reaped.push(...(await backend.reap(deps.runDir)));
    } catch (err) {
      log.error('could not remove leftover sandboxes', { backend: backend.name, err: errorMessage(err) });
    }
  }
  reaped.push(...removeStaleRunDirs(deps.runDir, log));
  const { requeued, failed } = deps.store.recoverUnfinished({
    maxAttempts: MAX_ATTEMPTS,
    reason: INTERRUPTED,
    outboxFor: deps.outboxFor,
  });
  for (const m of failed)
    deps.store.appendAudit({
      actor: 'host',
      action: 'message.failed',
      subject: m.agent,
      detail: { messageId: m.id, error: m.error },
    });
  if (reaped.length + requeued.length + failed.length > 0)
    log.info('recovered after an unclean stop', {
      reaped: reaped.length,
      requeued: requeued.length,
      failed: failed.length,
    });
  return { reaped, requeued, failed };
}
