// Follows $CORRAL_HOME/channels.yaml while the host runs (fs.watch on its directory, since writers replace the file
// by a rename; debounced like the agent catalog), so `corral channel add/rm` or an edit applies without a restart.
import fs from 'node:fs';
import path from 'node:path';
import { channelsFile } from '../../config/channels.ts';
import type { HomePaths } from '../../config/home.ts';
import type { Logger } from '../../util/log.ts';
import { RELOAD_DEBOUNCE_MS } from '../daemon/agent-catalog.ts';

/** Calls `onChange` once the file settled after a change; returns the function that stops watching. */
export function watchChannelsFile(opts: {
  home: HomePaths;
  log: Logger;
  onChange: () => void;
  debounceMs?: number | undefined;
}): () => void {
  const file = channelsFile(opts.home);
  const base = path.basename(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: fs.FSWatcher;
  try {
    watcher = fs.watch(path.dirname(file), (_event, filename) => {
      if (filename === null || path.basename(filename.toString()) !== base) return;
      clearTimeout(timer);
      timer = setTimeout(opts.onChange, opts.debounceMs ?? RELOAD_DEBOUNCE_MS);
    });
  } catch (err) {
    opts.log.error('cannot watch channels.yaml; changes apply at the next start', {
      err: err instanceof Error ? err.message : String(err),
    });
    return () => undefined;
  }
  watcher.on('error', (err) => opts.log.error('cannot watch channels.yaml', { err: err.message }));
  return () => {
    watcher.close();
    clearTimeout(timer);
  };
}
