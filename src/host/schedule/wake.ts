// How `corral task …` (another process) tells a running host that tasks changed: it rewrites a small file in
// the run directory, and the host, watching that directory, re-reads the earliest due task. No polling.
import fs from 'node:fs';
import path from 'node:path';
import type { HomePaths } from '../../config/home.ts';
import type { Logger } from '../../util/log.ts';

const WAKE_FILE = 'tasks.changed';

/** Tells a running host (if any) to look at the tasks table again. */
export function notifyTasksChanged(home: HomePaths): void {
  try {
    fs.writeFileSync(path.join(home.runDir, WAKE_FILE), `${new Date().toISOString()}\n`, { mode: 0o600 });
  } catch {
    // no run directory: no host has ever run here, nothing to wake
  }
}

/** Calls `onChange` whenever the wake file is written; returns a function that stops watching. */
export function watchTaskChanges(home: HomePaths, log: Logger, onChange: () => void): () => void {
  let watcher: fs.FSWatcher;
  try {
    watcher = fs.watch(home.runDir, (_event, filename) => {
      if (filename === WAKE_FILE) onChange();
    });
  } catch (err) {
    log.warn('cannot watch for task changes; `corral task` changes apply after a restart', {
      err: err instanceof Error ? err.message : String(err),
    });
    return () => undefined;
  }
  watcher.on('error', (err) => log.error('task change watch failed', { err: err.message }));
  return () => watcher.close();
}
