// The VM's two disks: the base image as a read-only ext4 image (built once per image with mkfs.ext4 -d) and the
// agent's own writable disk in its layer directory (sparse ext4 of its disk limit, made on first use). The host
// never mounts either: only the guest's kernel reads what the agent wrote.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import { ensureHostDir } from '../layer/dirs.ts';
import type { SandboxRoot } from '../types.ts';
import { MIB } from '../types.ts';

const MKFS_TIMEOUT_MS = 10 * 60_000;
/** Room for ext4's own metadata on top of the files, and for the agent's first writes on its disk. */
const BASE_SLACK_BYTES = 64 * MIB;
export const MIN_LAYER_DISK_BYTES = 64 * MIB;
export const LAYER_DISK_FILE = 'disk.ext4';

function tool(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    timeout: MKFS_TIMEOUT_MS,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
  });
  if (r.status !== 0) {
    throw new CorralError(
      'microvm_disk',
      `${cmd} failed: ${(r.stderr || r.error?.message || `exit ${String(r.status)}`).trim()}`,
      'is e2fsprogs (mkfs.ext4) installed? apt-get install -y e2fsprogs',
    );
  }
  return r.stdout;
}

/** Beside the image when it is an entry of the image cache (removed with it), else in the backend's cache. */
export function baseDiskPath(root: Pick<SandboxRoot, 'imageDir' | 'imageId'>, cacheDir: string): string {
  const entry = path.dirname(root.imageDir);
  return path.basename(entry) === root.imageId
    ? path.join(entry, 'microvm.ext4')
    : path.join(cacheDir, `${root.imageId}.ext4`);
}

/** The read-only disk of an image, built from its rootfs directory on first use. */
export function ensureBaseDisk(root: Pick<SandboxRoot, 'imageDir' | 'imageId'>, cacheDir: string): string {
  const file = baseDiskPath(root, cacheDir);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const used = Number(tool('du', ['-s', '-B1', '-x', root.imageDir]).split(/\s/)[0]);
  const inodes = Number(tool('du', ['-s', '--inodes', '-x', root.imageDir]).split(/\s/)[0]);
  const bytes = Math.ceil((used * 1.2 + BASE_SLACK_BYTES) / MIB) * MIB;
  // a UUID from the image id: the same image gives the same disk identity
  const uuid = crypto.createHash('sha256').update(root.imageId).digest('hex');
  const fsUuid = `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-4${uuid.slice(13, 16)}-8${uuid.slice(17, 20)}-${uuid.slice(20, 32)}`;
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  try {
    tool('mkfs.ext4', [
      '-q',
      '-F',
      '-t',
      'ext4',
      '-L',
      'corral-base',
      '-U',
      fsUuid,
      '-m',
      '0',
      '-O',
      '^has_journal',
      '-N',
      String(Math.ceil(inodes * 1.2) + 4096),
      '-d',
      root.imageDir,
      tmp,
      `${bytes / 1024}k`,
    ]);
    fs.chmodSync(tmp, 0o644);
    fs.renameSync(tmp, file);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return file;
}

/**
 * Opens the agent's writable disk for QEMU, making it (sparse, `bytes` large) on first use. The layer directory
 * is corral's, never the agent's, but it is still checked: a link where the disk should be is refused.
 */
export function openLayerDisk(layerDir: string, bytes: number): number {
  ensureHostDir(layerDir, 0o700);
  const file = path.join(layerDir, LAYER_DISK_FILE);
  if (!fs.existsSync(file)) {
    const tmp = `${file}.tmp`;
    fs.rmSync(tmp, { force: true });
    const size = Math.ceil(Math.max(bytes, MIN_LAYER_DISK_BYTES) / MIB) * MIB;
    fs.writeFileSync(tmp, '', { mode: 0o600 });
    tool('mkfs.ext4', [
      '-q',
      '-F',
      '-t',
      'ext4',
      '-L',
      'corral-layer',
      '-m',
      '0',
      // the guest initialises the rest in the background: the sparse file stays small
      '-E',
      'lazy_itable_init=1,lazy_journal_init=1',
      tmp,
      `${size / 1024}k`,
    ]);
    fs.renameSync(tmp, file);
  }
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_NOFOLLOW);
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new CorralError('unsafe_path', `${file} is not a regular file; not using it as a disk`);
  }
  return fd;
}
