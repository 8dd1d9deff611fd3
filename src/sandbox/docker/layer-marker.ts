// The link between an agent's layer directory and its container: a random layer id, written in the directory and
// set as a label on the container. Dropping the directory (a reset, a purge, a self-test's scratch layer) thus
// drops the environment: a container whose id no longer matches its directory is stale and is removed.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readNoFollow } from '../../util/read-no-follow.ts';

const MARKER = 'docker-layer-id';

export function readLayerId(layerDir: string): string | undefined {
  const id = readNoFollow(path.join(layerDir, MARKER))?.trim();
  return id !== undefined && /^[0-9a-f-]{36}$/.test(id) ? id : undefined;
}

/** A new layer id, written into the layer directory (created when missing). */
export function newLayerId(layerDir: string): string {
  fs.mkdirSync(layerDir, { recursive: true, mode: 0o700 });
  const id = crypto.randomUUID();
  const file = path.join(layerDir, MARKER);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${id}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
  return id;
}

const RESTORE = 'docker-restore-image';

/** The next container of this layer starts from `image` (a snapshot's commit) instead of the base image. */
export function setRestoreImage(layerDir: string, image: string): void {
  fs.mkdirSync(layerDir, { recursive: true, mode: 0o700 });
  const file = path.join(layerDir, RESTORE);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${image}\n`, { mode: 0o600, flag: 'wx' });
  fs.renameSync(tmp, file);
}

export function readRestoreImage(layerDir: string): string | undefined {
  const ref = readNoFollow(path.join(layerDir, RESTORE))?.trim();
  return ref !== undefined && /^corral-snap-[0-9a-f]{12}-[A-Za-z0-9._-]+:[A-Za-z0-9._-]+$/.test(ref)
    ? ref
    : undefined;
}

export function clearRestoreImage(layerDir: string): void {
  fs.rmSync(path.join(layerDir, RESTORE), { force: true });
}

export function dropLayerId(layerDir: string): void {
  fs.rmSync(path.join(layerDir, MARKER), { force: true });
}
