// Shows image build progress: one rewritten line on a terminal, one line per step otherwise, or NDJSON.
import type { ImageProgress } from './types.ts';

export type DisplayMode = 'tty' | 'lines' | 'json';

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export interface ProgressDisplay {
  (e: ImageProgress): void;
}

/** `write` gets whole lines (or, on a terminal, a carriage-return line that replaces the last one). */
export function createProgressDisplay(write: (s: string) => void, mode: DisplayMode): ProgressDisplay {
  let frame = 0;
  let id = '';
  return (e) => {
    if (mode === 'json') {
      write(JSON.stringify(e) + '\n');
      return;
    }
    switch (e.type) {
      case 'build':
        id = e.imageId;
        write(`building base image ${e.imageId} (${e.tool}, --mode=${e.mode}); about a minute\n`);
        return;
      case 'waiting':
        if (mode === 'tty')
          write(
            `\r\x1b[K${SPINNER[frame++ % SPINNER.length]} waiting for pid ${e.holderPid} to build ${e.imageId}`,
          );
        else if (frame++ === 0) write(`waiting for pid ${e.holderPid}, which is building ${e.imageId}\n`);
        return;
      case 'step':
      case 'bytes': {
        const text = `${e.step.padEnd(11)} ${formatBytes(e.bytes).padStart(10)}  ${formatElapsed(e.elapsedMs)}`;
        if (mode === 'tty') write(`\r\x1b[K${SPINNER[frame++ % SPINNER.length]} ${id} ${text}`);
        else if (e.type === 'step') write(`image: ${text}\n`);
        return;
      }
      case 'done':
        if (mode === 'tty' && frame > 0) write('\r\x1b[K');
        if (e.built || frame > 0)
          write(
            `${e.built ? 'built' : 'ready'} ${e.imageId} (${formatBytes(e.sizeBytes)}) in ${formatElapsed(e.elapsedMs)}\n`,
          );
        return;
    }
  };
}

/** Progress on stderr, shaped for whatever stderr is. */
export function stderrDisplay(): ProgressDisplay {
  return createProgressDisplay((s) => process.stderr.write(s), process.stderr.isTTY ? 'tty' : 'lines');
}
