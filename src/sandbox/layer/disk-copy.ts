// Copies a disk image file (the microvm backend's per-agent writable disk) for a snapshot or a restore: a reflink
// where the filesystem shares blocks (btrfs, XFS), else a copy that keeps the holes, so a mostly empty disk of
// its full limit costs only what it holds. Only corral's own files: a link or anything but a regular file is refused.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { CorralError } from '../../util/errors.ts';

const TOOL_ENV = { PATH: '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
const PROGRESS_INTERVAL_MS = 500;
const BLOCK_BYTES = 512;

function regularFile(file: string): fs.Stats {
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined || !st.isFile()) {
    throw new CorralError('unsafe_path', `${file} is not a regular file; not copying it as a disk`);
  }
  return st;
}

/**
 * Copies `src` to `dst` (written beside it as dst.partial, then renamed into place, mode 0600). `onProgress`
 * gets the bytes the copy holds so far (its allocated blocks, holes not counted).
 */
export async function copyDiskImage(
  src: string,
  dst: string,
  onProgress: (bytes: number) => void = () => undefined,
): Promise<{ bytes: number }> {
  const size = regularFile(src).size;
  const tmp = `${dst}.partial`;
  fs.rmSync(tmp, { force: true });
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        'cp',
        ['--reflink=auto', '--sparse=always', '--no-dereference', '--no-preserve=all', '--', src, tmp],
        { env: TOOL_ENV, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let err = '';
      child.stderr.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-2000)));
      const timer = setInterval(() => {
        const st = fs.statSync(tmp, { throwIfNoEntry: false });
        if (st !== undefined) onProgress(st.blocks * BLOCK_BYTES);
      }, PROGRESS_INTERVAL_MS);
      child.once('error', (e) => {
        clearInterval(timer);
        reject(new CorralError('disk_copy', `cannot run cp: ${e.message}`, 'apt-get install -y coreutils'));
      });
      child.once('exit', (code) => {
        clearInterval(timer);
        if (code === 0) resolve();
        else reject(new CorralError('disk_copy', `copying ${src} failed (${String(code)}): ${err.trim()}`));
      });
    });
    if (regularFile(tmp).size !== size) {
      throw new CorralError('disk_copy', `the copy of ${src} is not ${size} bytes long`);
    }
    fs.chmodSync(tmp, 0o600);
    fs.renameSync(tmp, dst);
    return { bytes: size };
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
