// Which corral process holds a layer: small files naming its pid and start time, so a reaper leaves a live
// corral's mounts alone, a second corral refuses a layer in use, and a reused pid is not taken for the owner.
import fs from 'node:fs';
import { CorralError } from '../../util/errors.ts';
import { processAlive, processStartTime } from '../../util/process-start.ts';
import { readNoFollow } from '../../util/read-no-follow.ts';

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

/** `PID START` as a line of a record: a process by pid and start time. */
function identity(line: string): { pid: number; start: string } | undefined {
  const [pid, start] = line.split(' ');
  const n = Number(pid);
  return Number.isInteger(n) && n > 0 && start !== undefined && start !== '' ? { pid: n, start } : undefined;
}

export function readRecord(file: string): OwnerRecord | undefined {
  const text = readNoFollow(file);
  if (text === undefined) return undefined;
  const [head = '', mountpoint = ''] = text.split('\n');
  const id = identity(head);
  return {
    pid: id?.pid ?? Number(head.split(' ')[0]),
    mountpoint,
    alive: id !== undefined && processAlive(id),
  };
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
    fs.rmSync(offerFile(layerDir), { force: true });
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
  // a dead holder's offer of its idle mount: never to be taken for one of ours
  fs.rmSync(offerFile(layerDir), { force: true });
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

// An idle layer: its holder keeps it mounted with no sandbox on it, so the agent's next sandbox starts on a warm
// root. The holder offers it in a file inside the layer directory; whoever needs the layer meanwhile (`agent
// reset`, a snapshot, another corral process) takes the offer and unmounts it, instead of being refused. Taking
// and withdrawing are one rename of the offer: exactly one side wins.

export interface IdleOffer {
  /** the corral process that holds the layer (as in its lock) */
  holder: { pid: number; start: string };
  mountpoint: string;
  /** the layer's fuse server, which exits once the mount is gone */
  fuse: { pid: number; start: string };
}

export function offerFile(layerDir: string): string {
  return `${layerDir}/idle`;
}

/** Written beside, then renamed into place: a reader sees a whole offer or none. */
export function writeOffer(layerDir: string, mountpoint: string, fusePid: number): void {
  const fuseStart = processStartTime(fusePid);
  const holderStart = processStartTime(process.pid);
  if (fuseStart === undefined || holderStart === undefined) return; // nothing alive to offer
  const tmp = `${offerFile(layerDir)}.${process.pid}`;
  const fd = fs.openSync(tmp, CREATE | fs.constants.O_TRUNC, 0o600);
  try {
    fs.writeSync(fd, `${process.pid} ${holderStart}\n${mountpoint}\n${fusePid} ${fuseStart}\n`);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, offerFile(layerDir));
}

function readOffer(file: string): IdleOffer | undefined {
  const [holder = '', mountpoint = '', fuse = ''] = (readNoFollow(file) ?? '').split('\n');
  const h = identity(holder);
  const f = identity(fuse);
  return h && f && mountpoint !== '' ? { holder: h, mountpoint, fuse: f } : undefined;
}

function renameAway(layerDir: string, why: string): string | undefined {
  const to = `${offerFile(layerDir)}.${why}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  try {
    fs.renameSync(offerFile(layerDir), to);
    return to;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return undefined;
    throw err;
  }
}

/** The holder takes its offer back to use the mount again: false when someone took it first. */
export function withdrawOffer(layerDir: string): boolean {
  const away = renameAway(layerDir, 'withdrawn');
  if (away === undefined) return false;
  fs.rmSync(away, { force: true });
  return true;
}

/**
 * Takes the live holder's offer of its idle mount, if there is one: the caller must then unmount it and wait
 * for its fuse server (see takeIdleLayer). An offer that does not match the holder's lock (left by a dead one,
 * or of a mount since replaced) is never taken.
 */
export function takeOffer(layerDir: string): IdleOffer | undefined {
  const lock = readRecord(lockFile(layerDir));
  const offer = readOffer(offerFile(layerDir));
  const valid = (o: IdleOffer | undefined): o is IdleOffer =>
    o !== undefined &&
    lock?.alive === true &&
    lock.pid === o.holder.pid &&
    lock.mountpoint === o.mountpoint &&
    processAlive(o.holder) &&
    processAlive(o.fuse);
  if (!valid(offer)) return undefined;
  const taken = renameAway(layerDir, 'taken');
  if (taken === undefined) return undefined;
  const got = readOffer(taken);
  if (!valid(got)) {
    // replaced between our read and our rename by one we did not check: give it back untouched
    fs.renameSync(taken, offerFile(layerDir));
    return undefined;
  }
  fs.rmSync(taken, { force: true });
  return got;
}

/** After a takeover: the holder's lock goes, unless it is no longer that holder's. */
export function dropTakenLock(layerDir: string, holder: { pid: number }): void {
  if (readRecord(lockFile(layerDir))?.pid === holder.pid) fs.rmSync(lockFile(layerDir), { force: true });
}
