// A disk quota that the kernel enforces: a sparse file holding an ext4 file system of exactly the quota's size,
// loop-mounted (as root) where the agent's data lives. Writes beyond it fail with ENOSPC inside the sandbox.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { CorralError } from '../../util/errors.ts';
import { detachCopies } from '../../util/detach-copies.ts';
import { loopBackingFile, loopDevicesOf, mountsAt } from '../../util/mountinfo.ts';

const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' };
const TOOL_TIMEOUT_MS = 120_000;
/** Another corral process may be mounting the same volume: one mount at a time, never two loop devices. */
const LOCK_WAIT_SECONDS = '60';
const MOUNT_OPTIONS = 'loop,nosuid,nodev,noatime';

function run(cmd: string, args: string[], okCodes: number[] = [0]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env: TOOL_ENV, timeout: TOOL_TIMEOUT_MS }, (err, _out, stderr) => {
      if (err === null || (typeof err.code === 'number' && okCodes.includes(err.code))) return resolve();
      const why = stderr.trim().split('\n').slice(-2).join(' ') || err.message;
      reject(new CorralError('volume_failed', `${cmd} ${args.join(' ')}: ${why}`, 'run: corral doctor'));
    });
  });
}

/** Creates the image file (never through a link) and an empty ext4 file system in it. */
export async function createImage(file: string, bytes: number): Promise<void> {
  const fd = fs.openSync(
    file,
    fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW,
    0o600,
  );
  try {
    fs.ftruncateSync(fd, bytes);
  } finally {
    fs.closeSync(fd);
  }
  try {
    // No blocks reserved for root: the agent is the only user. Lazy init keeps a large sparse image sparse.
    await run('mkfs.ext4', [
      '-q',
      '-F',
      '-m',
      '0',
      '-E',
      'lazy_itable_init=1,lazy_journal_init=1,nodiscard',
      file,
    ]);
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  }
}

const SUPERBLOCK_OFFSET = 1024;
const EXT4_MAGIC = 0xef53;
const FEATURE_INCOMPAT_64BIT = 0x80;

/** Size of the ext4 file system in the image, from its superblock (the file may already be larger). */
export function fsBytes(file: string): number {
  const sb = Buffer.alloc(1024);
  const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    fs.readSync(fd, sb, 0, sb.length, SUPERBLOCK_OFFSET);
  } finally {
    fs.closeSync(fd);
  }
  if (sb.readUInt16LE(0x38) !== EXT4_MAGIC)
    throw new CorralError(
      'volume_corrupt',
      `${file} holds no ext4 file system`,
      `move it away; corral makes a new one`,
    );
  const blockSize = 1024 << sb.readUInt32LE(0x18);
  const hi = (sb.readUInt32LE(0x60) & FEATURE_INCOMPAT_64BIT) !== 0 ? sb.readUInt32LE(0x150) : 0;
  return (hi * 2 ** 32 + sb.readUInt32LE(0x04)) * blockSize;
}

export type MountState =
  { state: 'mounted'; device: string } | { state: 'unmounted' } | { state: 'foreign'; source: string };

/** Whether `dir` holds this image (and on which loop device), nothing, or something else. */
export function mountState(file: string, dir: string): MountState {
  const top = mountsAt(dir).at(-1);
  if (top === undefined) return { state: 'unmounted' };
  if (top.fsType === 'ext4' && loopBackingFile(top.source) === file)
    return { state: 'mounted', device: top.source };
  return { state: 'foreign', source: `${top.fsType} ${top.source}` };
}

export async function mountImage(file: string, dir: string, lockDir: string): Promise<void> {
  // mount -o loop reuses a loop device already attached to the file, so a second mount is the same file system.
  await run('flock', [
    '-w',
    LOCK_WAIT_SECONDS,
    lockDir,
    'mount',
    '-t',
    'ext4',
    '-o',
    MOUNT_OPTIONS,
    file,
    dir,
  ]);
}

export async function unmountImage(file: string, dir: string): Promise<void> {
  // stacked mounts of the same volume (two processes raced) come off one by one
  while (mountState(file, dir).state === 'mounted') await run('umount', [dir]);
  // still attached: a namespace made while it was mounted (an image build's) may hold a copy of the mount; a
  // running sandbox of the agent holds it through its own /workspace, not a mount here, and keeps it
  if (loopDevicesOf(file).length > 0) detachCopies(dir);
}

/**
 * Grows the file system to `bytes`: online where the kernel lets us (needs CAP_SYS_RESOURCE), otherwise offline,
 * but only when no sandbox still holds the volume. Returns false when it stays at its old size for now.
 * Shrinking is never done: it could cut off the agent's files.
 */
export async function growImage(file: string, dir: string, bytes: number, lockDir: string): Promise<boolean> {
  if (fsBytes(file) >= bytes) return true;
  if (fs.lstatSync(file).size < bytes) {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW);
    try {
      fs.ftruncateSync(fd, bytes);
    } finally {
      fs.closeSync(fd);
    }
  }
  const m = mountState(file, dir);
  if (m.state === 'mounted') {
    try {
      await run('losetup', ['-c', m.device]);
      await run('resize2fs', [m.device]);
      return true;
    } catch {
      await unmountImage(file, dir);
    }
  }
  // Still attached after our unmount: a running sandbox has it mounted in its own namespace. Resizing a live
  // file system from outside would corrupt it, so it grows at a later start.
  if (loopDevicesOf(file).length === 0) {
    await run('e2fsck', ['-f', '-p', file], [0, 1]);
    await run('resize2fs', [file]);
  }
  await mountImage(file, dir, lockDir);
  return fsBytes(file) >= bytes;
}
