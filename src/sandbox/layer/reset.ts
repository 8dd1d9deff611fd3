// Dropping an agent's layer: only while no sandbox has it mounted, and without following anything inside it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import { isLayerMounted } from './mountinfo.ts';
import { takeIdleLayer, unmountPath } from './mount.ts';
import { claimLayer, layerHolder, lockFile, ownerAlive, readRecord } from './owner.ts';

/** Throws when a live process has the layer mounted; unmounts what a dead one left. */
export async function ensureLayerIdle(layerDir: string): Promise<void> {
  // kept mounted only for the agent's next sandbox: that mount gives way
  await takeIdleLayer(layerDir);
  const holder = layerHolder(layerDir);
  if (holder !== undefined) {
    throw new CorralError(
      'layer_in_use',
      `a sandbox is running on this environment (corral process ${holder.pid}, mounted at ${holder.mountpoint})`,
      'stop its session (or the corral host) first',
    );
  }
  const stale = readRecord(lockFile(layerDir));
  if (stale !== undefined && isLayerMounted(stale.mountpoint) && !ownerAlive(stale.mountpoint)) {
    await unmountPath(stale.mountpoint);
  }
}

/**
 * Removes a directory tree that holds agent-made content. Renamed away first, so the agent never sees half a
 * layer. fs.rm does not follow links (it unlinks them), and nothing can change the tree meanwhile: with no
 * mount, the agent has no way to reach it. As an ordinary user, directories the agent made unwritable are
 * opened without following links and made writable first.
 */
export function removeTree(dir: string): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory()) throw new CorralError('unsafe_path', `${dir} is not a directory; not removing it`);
  const trash = `${dir}.drop-${crypto.randomBytes(4).toString('hex')}`;
  fs.renameSync(dir, trash);
  if (process.getuid?.() !== 0) makeDirsWritable(trash);
  fs.rmSync(trash, { recursive: true, force: true });
}

function makeDirsWritable(dir: string): void {
  const fd = fs.openSync(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
  try {
    fs.fchmodSync(fd, 0o700);
  } finally {
    fs.closeSync(fd);
  }
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) makeDirsWritable(path.join(dir, e.name));
  }
}

export async function dropLayer(layerDir: string): Promise<void> {
  if (!fs.existsSync(layerDir)) return;
  await ensureLayerIdle(layerDir);
  // held while the tree is renamed away, so no sandbox can mount it half-way (the lock goes with the tree)
  claimLayer(layerDir, '(reset)');
  removeTree(layerDir);
}
