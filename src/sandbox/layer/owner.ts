// Which corral process holds a layer: small files naming its pid and start time, so a reaper leaves a live
// corral's mounts alone, a second corral refuses a layer in use, and a reused pid is not taken for the owner.
import fs from 'node:fs';
import { CorralError } from '../../util/errors.ts';
import { processStartTime } from '../../util/process-start.ts';

export interface OwnerRecord {
  pid: number;
  /** where the holder mounted the layer */
  mountpoint: string;
  alive: boolean;
}

const CREATE = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW;

function writeRecord(file: string, mountpoint: string, exclusive: boolean): void {
  const flags = CREATE | (exclusive ? fs.constants.O_EXCL : fs.constants.O_TRUNC);
  const fd = fs.openSync(file, flags, 0o600);
  try {
    fs.writeSync(fd, `${process.pid} ${processStartTime(process.pid) ?? '?'}\n${mountpoint}\n`);
  } finally {
    fs.closeSync(fd);
  }
}

export function readRecord(file: string): OwnerRecord | undefined {
  let text: string;
  try {
    const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      text = fs.readFileSync(fd, 'utf8');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return undefined;
  }
  const [head = '', mountpoint = ''] = text.split('\n');
  const [pid, start] = head.split(' ');
  const n = Number(pid);
  const ok = Number.isInteger(n) && n > 0;
  return { pid: n, mountpoint, alive: ok && start !== undefined && processStartTime(n) === start };
}

/** Beside a mount point: read by reapLayers to tell a dead corral's mount from a live one's. */
export function ownerFile(mountpoint: string): string {
  return `${mountpoint}.owner`;
}

export function writeOwner(mountpoint: string): void {
  writeRecord(ownerFile(mountpoint), mountpoint, false);
}

export function ownerAlive(mountpoint: string): boolean {
  return readRecord(ownerFile(mountpoint))?.alive === true;
}

/** Inside a layer directory: the one process that has it mounted, wherever that is. */
export function lockFile(layerDir: string): string {
  return `${layerDir}/lock`;
}

/** The live process holding this layer, if any. */
export function layerHolder(layerDir: string): OwnerRecord | undefined {
  const r = readRecord(lockFile(layerDir));
  return r?.alive === true ? r : undefined;
}

function busy(layerDir: string, holder: OwnerRecord): CorralError {
  const self = holder.pid === process.pid ? 'this process' : `corral process ${holder.pid}`;
  return new CorralError(
    'layer_in_use',
    `the environment in ${layerDir} is in use by ${self} (mounted at ${holder.mountpoint})`,
    'stop that sandbox first; to run one agent in several sessions at once, run them from one corral host',
  );
}

/**
 * Claims a layer for this process. A lock left by a dead process is returned (so its stale mount can be
 * unmounted) and replaced; a live holder is refused.
 */
export function claimLayer(layerDir: string, mountpoint: string): OwnerRecord | undefined {
  const file = lockFile(layerDir);
  try {
    writeRecord(file, mountpoint, true);
    return undefined;
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
  }
  const stale = readRecord(file);
  if (stale?.alive === true) throw busy(layerDir, stale);
  fs.rmSync(file, { force: true });
  try {
    writeRecord(file, mountpoint, true);
  } catch {
    // someone else claimed it between our read and our write
    const holder = readRecord(file);
    throw busy(layerDir, holder ?? { pid: 0, mountpoint: '?', alive: true });
  }
  return stale;
}

/** Holds a layer for work that is not a mount (snapshot, restore); the returned function lets it go. */
export function holdLayer(layerDir: string, purpose: string): () => void {
  claimLayer(layerDir, purpose);
  return () => {
    if (readRecord(lockFile(layerDir))?.pid === process.pid) fs.rmSync(lockFile(layerDir), { force: true });
  };
}

export function releaseLayer(layerDir: string, mountpoint: string): void {
  fs.rmSync(ownerFile(mountpoint), { force: true });
  const held = readRecord(lockFile(layerDir));
  if (held?.pid === process.pid) fs.rmSync(lockFile(layerDir), { force: true });
}

export function removeOwner(mountpoint: string): void {
  fs.rmSync(ownerFile(mountpoint), { force: true });
}
