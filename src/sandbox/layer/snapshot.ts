// Snapshots of an agent's environment and workspace: one tar of layer/upper and workspace, made and restored by
// GNU tar, which never follows a link it archives (it stores the link) and never writes outside its target.
// A microvm agent's environment is a disk image in its layer directory instead: copied beside the tar (sparse,
// reflinked where the filesystem can), never opened by the host.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import { LAYER_DISK_FILE } from '../microvm/disks.ts';
import { copyDiskImage } from './disk-copy.ts';
import { ensureHostDir } from './dirs.ts';
import { removeTree } from './reset.ts';

/** What a snapshot holds, relative to the agent's data directory. */
export const SNAPSHOT_MEMBERS = ['layer/upper', 'workspace'];
/** The microvm backend's writable disk, when the layer has one: kept beside the tar, not in it. */
export const SNAPSHOT_DISK = `layer/${LAYER_DISK_FILE}`;

/** Where the disk of the snapshot whose tar is `tarFile` is kept. */
export function snapshotDiskFile(tarFile: string): string {
  return `${tarFile.replace(/\.tar$/, '')}.disk.ext4`;
}
const TOOL_ENV = { PATH: '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
const PROGRESS_INTERVAL_MS = 500;

/**
 * Ownership (numeric: the image's and the agent's uids, not names), modes and every xattr: fuse-overlayfs keeps
 * opaque directories as trusted.overlay.opaque and deletions of base files as 0:0 character devices, which
 * tar stores like any device, so a file deleted from the base image stays deleted after a restore.
 */
const TAR_COMMON = ['--xattrs', '--xattrs-include=*', '--numeric-owner'];

function runTar(
  args: string[],
  watch?: { file: string; onProgress: (bytes: number) => void },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', args, { env: TOOL_ENV, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-4000)));
    const timer =
      watch &&
      setInterval(() => {
        const size = fs.statSync(watch.file, { throwIfNoEntry: false })?.size;
        if (size !== undefined) watch.onProgress(size);
      }, PROGRESS_INTERVAL_MS);
    child.once('error', (e) => {
      clearInterval(timer);
      reject(new CorralError('snapshot_tar', `cannot run tar: ${e.message}`, 'apt-get install -y tar'));
    });
    child.once('exit', (code) => {
      clearInterval(timer);
      if (code === 0) resolve();
      else reject(new CorralError('snapshot_tar', `tar failed (${String(code)}): ${err.trim()}`));
    });
  });
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (c) => hash.update(c))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

/**
 * Archives `dataDir`'s layer/upper and workspace into `file` (written beside it, then renamed into place), and
 * copies the layer's disk image, if it has one, to snapshotDiskFile(file). The caller holds the layer, so
 * nothing changes underneath. `disk`: whether there was one to copy.
 */
export async function createSnapshot(
  dataDir: string,
  file: string,
  onProgress: (bytes: number) => void = () => undefined,
): Promise<{ bytes: number; sha256: string; disk: boolean }> {
  const members = SNAPSHOT_MEMBERS.filter((m) => fs.existsSync(path.join(dataDir, m)));
  const tmp = `${file}.partial`;
  try {
    await runTar(
      [
        '--create',
        '--file',
        tmp,
        ...TAR_COMMON,
        '--sparse',
        '--one-file-system',
        '-C',
        dataDir,
        '--',
        ...members,
      ],
      {
        file: tmp,
        onProgress,
      },
    );
    fs.chmodSync(tmp, 0o600);
    const sha256 = await sha256File(tmp);
    const bytes = fs.statSync(tmp).size;
    const disk = path.join(dataDir, SNAPSHOT_DISK);
    const hasDisk = fs.lstatSync(disk, { throwIfNoEntry: false }) !== undefined;
    if (hasDisk) await copyDiskImage(disk, snapshotDiskFile(file), (b) => onProgress(bytes + b));
    fs.renameSync(tmp, file);
    return { bytes, sha256, disk: hasDisk };
  } catch (err) {
    fs.rmSync(snapshotDiskFile(file), { force: true });
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Every member must sit under one of SNAPSHOT_MEMBERS, relative, without '..': checked before extracting. */
export function checkMemberNames(names: string[]): void {
  for (const raw of names) {
    const name = raw.replace(/\/$/, '');
    const inside = SNAPSHOT_MEMBERS.some((m) => name === m || name.startsWith(`${m}/`)) || name === 'layer';
    if (!inside || path.isAbsolute(name) || name.split('/').includes('..')) {
      throw new CorralError(
        'snapshot_invalid',
        `snapshot member '${raw}' is outside what a snapshot may hold`,
      );
    }
  }
}

async function listMembers(file: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', ['--list', '--file', file], {
      env: TOOL_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(out.split('\n').filter((l) => l !== ''))
        : reject(new CorralError('snapshot_invalid', `cannot read snapshot ${file}`)),
    );
  });
}

/**
 * Replaces `dataDir`'s layer and workspace with the snapshot's: extracted into a fresh directory beside them
 * first, then swapped in by renames (the old ones are removed afterwards). `keepLock` is written into the new
 * layer before the swap, so the layer is never unlocked in between.
 */
export async function restoreSnapshot(
  dataDir: string,
  file: string,
  expectedSha256: string,
  keepLock: (newLayerDir: string) => void,
  /** the snapshot's disk image (snapshotDiskFile), put into the restored layer directory */
  disk?: string,
): Promise<void> {
  if ((await sha256File(file)) !== expectedSha256) {
    throw new CorralError('snapshot_corrupt', `${file} does not match its manifest (sha256 differs)`);
  }
  checkMemberNames(await listMembers(file));
  const stage = path.join(dataDir, `.restore-${crypto.randomBytes(4).toString('hex')}`);
  ensureHostDir(stage, 0o700);
  try {
    await runTar([
      '--extract',
      '--file',
      file,
      ...TAR_COMMON,
      '--same-owner',
      '--same-permissions',
      '-C',
      stage,
    ]);
    ensureHostDir(path.join(stage, 'layer'), 0o700);
    ensureHostDir(path.join(stage, 'layer/upper'), 0o755);
    ensureHostDir(path.join(stage, 'layer/work'), 0o700);
    // the workspace's top directory is the agent's (launch chowns it); a plain directory is all we ask
    const ws = path.join(stage, 'workspace');
    if (!fs.existsSync(ws)) fs.mkdirSync(ws, { mode: 0o700 });
    if (!fs.lstatSync(ws).isDirectory())
      throw new CorralError('snapshot_invalid', `${file}: workspace is not a directory`);
    if (disk !== undefined) await copyDiskImage(disk, path.join(stage, SNAPSHOT_DISK));
    keepLock(path.join(stage, 'layer'));
  } catch (err) {
    removeTree(stage);
    throw err;
  }
  swapIn(dataDir, stage);
  removeTree(stage);
}

/** Moves the current layer and workspace into stage/old and the staged ones into place; undoes on failure. */
function swapIn(dataDir: string, stage: string): void {
  const old = path.join(stage, 'old');
  ensureHostDir(old, 0o700);
  const moved: string[] = [];
  try {
    for (const d of ['layer', 'workspace']) {
      if (!fs.existsSync(path.join(dataDir, d))) continue;
      fs.renameSync(path.join(dataDir, d), path.join(old, d));
      moved.push(d);
    }
    for (const d of ['layer', 'workspace']) fs.renameSync(path.join(stage, d), path.join(dataDir, d));
  } catch (err) {
    for (const d of moved) {
      const place = path.join(dataDir, d);
      if (fs.existsSync(place)) fs.renameSync(place, path.join(stage, `${d}.restored`));
      fs.renameSync(path.join(old, d), place);
    }
    throw new CorralError(
      'snapshot_restore_failed',
      `could not swap the restored environment into ${dataDir}: ${String(err)}; the previous one is back in place`,
    );
  }
}
