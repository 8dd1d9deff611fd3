// The base image reaches Docker by import, never by pull: a tar of the rootfs directory streamed to the engine.
import { spawn } from 'node:child_process';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { SandboxRoot } from '../types.ts';
import { formatBytes, formatElapsed } from '../image/display.ts';
import type { DockerApi } from './api.ts';

export const BASE_REPO = 'corral-base';
const TAG_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function baseImageRef(imageId: string): string {
  if (!TAG_PATTERN.test(imageId)) {
    throw new CorralError('docker_image_id', `image id '${imageId}' cannot be a Docker tag`);
  }
  return `${BASE_REPO}:${imageId}`;
}

export interface ImportProgress {
  ref: string;
  /** bytes of the tar sent to Docker so far */
  bytes: number;
  elapsedMs: number;
  done: boolean;
}

const LINE_EVERY_BYTES = 64 * 1024 * 1024;

/** Import progress on stderr: one rewritten line on a terminal, a line per 64 MiB otherwise. */
export function importDisplay(
  write: (s: string) => void = (s) => process.stderr.write(s),
  tty = process.stderr.isTTY,
): (p: ImportProgress) => void {
  let lastLine = 0;
  return (p) => {
    const text = `docker: importing ${p.ref} ${formatBytes(p.bytes).padStart(10)}  ${formatElapsed(p.elapsedMs)}`;
    if (p.done) write(`${tty ? '\r\x1b[K' : ''}${text}, done\n`);
    else if (tty) write(`\r\x1b[K${text}`);
    else if (p.bytes - lastLine >= LINE_EVERY_BYTES) {
      lastLine = p.bytes;
      write(`${text}\n`);
    }
  };
}

function tarExit(child: ReturnType<typeof spawn>, stderr: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`tar ended with ${String(code ?? signal)}: ${stderr().trim()}`)),
    );
  });
}

/**
 * Imports `root.imageDir` as corral-base:<imageId> unless Docker has it already. With userns-remap, dockerd
 * shifts the owners of the imported files into the remapped range itself.
 */
export async function importBaseImage(
  api: DockerApi,
  root: Pick<SandboxRoot, 'imageDir' | 'imageId'>,
  opts: { log: Logger; onProgress?: (p: ImportProgress) => void },
): Promise<string> {
  const ref = baseImageRef(root.imageId);
  if (await api.imageExists(ref)) return ref;
  const started = Date.now();
  const child = spawn('tar', ['-C', root.imageDir, '--numeric-owner', '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
  });
  let errText = '';
  child.stderr.on('data', (c: Buffer) => (errText = (errText + c.toString()).slice(-2000)));
  let bytes = 0;
  child.stdout.on('data', (c: Buffer) => {
    bytes += c.length;
    opts.onProgress?.({ ref, bytes, elapsedMs: Date.now() - started, done: false });
  });
  const tarDone = tarExit(child, () => errText);
  tarDone.catch(() => undefined); // awaited below; a failure also cuts the upload short
  try {
    const [id] = await Promise.all([api.imageImport(BASE_REPO, root.imageId, child.stdout), tarDone]);
    opts.onProgress?.({ ref, bytes, elapsedMs: Date.now() - started, done: true });
    opts.log.info('docker: base image imported', { ref, id, bytes, ms: Date.now() - started });
    return ref;
  } catch (err) {
    // a tar that failed half-way may still have produced an image from what it sent: never keep that one
    child.kill('SIGKILL');
    await api.imageRemove(ref).catch(() => undefined);
    throw new CorralError(
      'docker_import_failed',
      `importing ${root.imageDir} into Docker as ${ref} failed: ${err instanceof Error ? err.message : String(err)}`,
      'check the image directory (corral image build) and the dockerd log',
      { cause: err },
    );
  }
}
