// Puts an agent's writable layer over the shared read-only base image with fuse-overlayfs, host-side.
import type { ChildProcess } from 'node:child_process';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { HostIds } from '../types.ts';
import { ensureHostDir } from './dirs.ts';
import { detachCopies } from '../../util/detach-copies.ts';
import { isLayerMounted } from './mountinfo.ts';
import { processAlive } from '../../util/process-start.ts';
import {
  claimLayer,
  dropTakenLock,
  ownerAlive,
  releaseLayer,
  removeOwner,
  takeOffer,
  writeOwner,
} from './owner.ts';

export const MOUNT_TIMEOUT_MS = 10_000;
/** after unmounting, how long the fuse process may take to write back and exit before it is killed */
export const FUSE_EXIT_TIMEOUT_MS = 5_000;
const MOUNT_POLL_MS = 2;
const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };

export interface LayerOptions {
  /** the base image's root filesystem: the read-only lower layer, never written */
  imageDir: string;
  /** host directory holding the layer: upper/ (the agent's changes) and work/ (fuse-overlayfs scratch) */
  layerDir: string;
  /** an empty host directory to mount the merged tree on */
  mountpoint: string;
  /** the host uid/gid root inside the sandbox maps to: the agent's uid as root, the caller's own otherwise */
  ids: HostIds;
}

export interface MountedLayer {
  /** the merged tree: the sandbox's root */
  readonly path: string;
  /** the fuse-overlayfs process serving it */
  readonly fusePid: number;
  /** settles when the fuse process has exited: the mount is gone (unmounted here, taken over, or crashed) */
  readonly exited: Promise<void>;
  /** Unmounts (lazily when busy) and resolves once the fuse process has exited, so upper/ is settled. */
  unmount(): Promise<void>;
}

/** fuse-overlayfs takes its paths inside a comma- and colon-separated option string. */
function checkOptionPath(p: string): void {
  if (!path.isAbsolute(p) || /[,:\\\n]/.test(p)) {
    throw new CorralError(
      'layer_path',
      `layer path '${p}' must be absolute and free of ',', ':' and '\\'`,
      'use a CORRAL_HOME whose path has none of these characters',
    );
  }
}

/**
 * As root, uidmapping stores what the agent's uid writes as host root in upper/, so the base image's root-owned
 * files stay root's. squash shows every file as the agent's root: files of system users in the image (apt's
 * partial/ directories belong to _apt) would otherwise show as nobody, out of reach of root in a user namespace
 * with one mapped uid, and apt-get could not run. An ordinary user cannot chown to root at all, so there every
 * file is shown as, and stored as, the caller itself.
 */
export function fuseOptions(opts: LayerOptions, asRoot: boolean): string {
  const { uid, gid } = opts.ids;
  const squash = [`squash_to_uid=${uid}`, `squash_to_gid=${gid}`];
  const owner = asRoot
    ? [`uidmapping=0:${uid}:1`, `gidmapping=0:${gid}:1`, ...squash, 'allow_other']
    : squash;
  return [
    `lowerdir=${opts.imageDir}`,
    `upperdir=${path.join(opts.layerDir, 'upper')}`,
    `workdir=${path.join(opts.layerDir, 'work')}`,
    ...owner,
    // nothing the agent puts in its layer is a setuid program or a device on the host's side of the mount
    'nosuid',
    'nodev',
    'noatime',
  ].join(',');
}

/** Creates the layer's host directories if missing: host-owned, reachable by this process alone. */
export function prepareLayerDirs(layerDir: string): void {
  ensureHostDir(layerDir, 0o700);
  ensureHostDir(path.join(layerDir, 'upper'), 0o755);
  ensureHostDir(path.join(layerDir, 'work'), 0o700);
}

function checkMountpoint(mountpoint: string): void {
  const st = fs.lstatSync(mountpoint);
  if (!st.isDirectory() || st.isSymbolicLink() || st.uid !== (process.getuid?.() ?? st.uid)) {
    throw new CorralError('unsafe_path', `mount point ${mountpoint} is not a plain directory of ours`);
  }
  if (isLayerMounted(mountpoint) && ownerAlive(mountpoint)) {
    throw new CorralError('layer_in_use', `${mountpoint} already has a layer mounted on it`);
  }
}

/** Takes the layer for this process; a dead corral's mount of it (here or elsewhere) is unmounted first. */
async function claim(layerDir: string, mountpoint: string): Promise<void> {
  const stale = claimLayer(layerDir, mountpoint);
  for (const p of new Set([stale?.mountpoint, mountpoint])) {
    if (p !== undefined && p !== '' && isLayerMounted(p) && (p === mountpoint || !ownerAlive(p))) {
      await unmountPath(p);
    }
  }
}

function fuseDeviceError(): CorralError | undefined {
  if (process.getuid?.() === 0) return undefined;
  try {
    fs.accessSync('/dev/fuse', fs.constants.R_OK | fs.constants.W_OK);
    return undefined;
  } catch {
    return new CorralError(
      'layer_no_fuse',
      '/dev/fuse is not open to this user, so fuse-overlayfs cannot mount the agent layer',
      'sudo chmod 0666 /dev/fuse (the usual mode; a udev rule keeps it), or run corral as root',
    );
  }
}

function readLog(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

async function waitForMount(
  child: ChildProcess,
  mountpoint: string,
  logFile: string,
  failed: () => boolean,
): Promise<void> {
  const deadline = Date.now() + MOUNT_TIMEOUT_MS;
  while (!isLayerMounted(mountpoint)) {
    if (failed() || child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new CorralError(
        'layer_mount_failed',
        `fuse-overlayfs could not mount the agent layer on ${mountpoint}: ${readLog(logFile).trim() || 'timed out'}`,
        'run: corral doctor',
      );
    }
    await new Promise((r) => setTimeout(r, MOUNT_POLL_MS));
  }
}

/** Unmounts a layer by path (no process handle needed, e.g. one a killed corral left): normal, then lazy. */
export async function unmountPath(mountpoint: string): Promise<void> {
  const normal = await fusermount(['-u', mountpoint]);
  if (!normal.ok && isLayerMounted(mountpoint)) {
    const lazy = await fusermount(['-u', '-z', mountpoint]);
    if (!lazy.ok && isLayerMounted(mountpoint)) {
      throw new CorralError(
        'layer_unmount_failed',
        `cannot unmount the agent layer at ${mountpoint}: ${lazy.err || normal.err}`,
        `fusermount3 -u -z ${mountpoint}`,
      );
    }
  }
  // a copy in a mount namespace made meanwhile would keep the fuse server from exiting until it is killed
  detachCopies(mountpoint);
}

function fusermount(args: string[]): Promise<{ ok: boolean; err: string }> {
  return new Promise((resolve) => {
    execFile('fusermount3', args, { env: TOOL_ENV, encoding: 'utf8' }, (error, _out, err) =>
      resolve({ ok: error === null, err: err.trim() || (error?.message ?? '') }),
    );
  });
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

export async function mountLayer(opts: LayerOptions): Promise<MountedLayer> {
  const asRoot = process.getuid?.() === 0;
  for (const p of [opts.imageDir, opts.layerDir, opts.mountpoint]) checkOptionPath(p);
  const deviceError = fuseDeviceError();
  if (deviceError) throw deviceError;
  if (!fs.lstatSync(opts.imageDir).isDirectory()) {
    throw new CorralError('layer_image', `base image ${opts.imageDir} is not a directory`);
  }
  prepareLayerDirs(opts.layerDir);
  // a mount of this layer kept idle by a corral process (this one's other pool, or another host) gives way
  await takeIdleLayer(opts.layerDir);
  checkMountpoint(opts.mountpoint);
  await claim(opts.layerDir, opts.mountpoint);
  try {
    return await startFuse(opts, asRoot);
  } catch (err) {
    releaseLayer(opts.layerDir, opts.mountpoint);
    throw err;
  }
}

async function startFuse(opts: LayerOptions, asRoot: boolean): Promise<MountedLayer> {
  // Foreground (-f) so that this handle is the fuse process itself; detached so a Ctrl-C to corral's process
  // group does not pull the root from under a sandbox that is still being stopped. Its stderr goes to a file
  // beside the mount point: a pipe would outlive corral badly (SIGPIPE kills the mount with it).
  const logFile = `${opts.mountpoint}.log`;
  const logFd = fs.openSync(
    logFile,
    fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW,
    0o600,
  );
  // written first, so a reaper in another corral never takes this mount for a dead one's
  writeOwner(opts.mountpoint);
  let child: ChildProcess;
  try {
    child = spawn('fuse-overlayfs', ['-f', '-o', fuseOptions(opts, asRoot), opts.mountpoint], {
      env: TOOL_ENV,
      stdio: ['ignore', 'ignore', logFd],
      detached: true,
    });
  } finally {
    fs.closeSync(logFd);
  }
  let spawnFailed = false;
  child.once('error', (err) => {
    spawnFailed = true;
    fs.appendFileSync(logFile, err.message);
  });
  const exited = exitOf(child);
  await waitForMount(child, opts.mountpoint, logFile, () => spawnFailed);
  child.unref();
  let unmounting: Promise<void> | undefined;
  return {
    path: opts.mountpoint,
    fusePid: child.pid ?? 0,
    exited,
    unmount() {
      unmounting ??= (async () => {
        await unmountPath(opts.mountpoint);
        const timer = setTimeout(() => child.kill('SIGKILL'), FUSE_EXIT_TIMEOUT_MS);
        await exited;
        clearTimeout(timer);
        // only now, with the fuse process gone and upper/ settled, may someone else take the layer
        releaseLayer(opts.layerDir, opts.mountpoint);
      })();
      return unmounting;
    },
  };
}

/** Polls until the process (pid and start time) is gone; kills it after `ms`. */
async function processGone(p: { pid: number; start: string }, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (processAlive(p)) {
    if (Date.now() > deadline) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await new Promise((r) => setTimeout(r, MOUNT_POLL_MS * 5));
  }
}

/**
 * When the live holder of a layer keeps it mounted only for the agent's next sandbox (an idle offer, see
 * owner.ts), takes it over: unmounts it, waits for its fuse server to exit (so upper/ is settled) and drops the
 * holder's lock, so the caller can claim the layer. False when there was nothing idle to take: a holder with a
 * sandbox on the layer is left alone, and the caller is refused as before.
 */
export async function takeIdleLayer(layerDir: string): Promise<boolean> {
  // taken only from the live holder named in the layer's lock (takeOffer checks)
  const offer = takeOffer(layerDir);
  if (offer === undefined) return false;
  await unmountPath(offer.mountpoint);
  await processGone(offer.fuse, FUSE_EXIT_TIMEOUT_MS);
  removeOwner(offer.mountpoint);
  dropTakenLock(layerDir, offer.holder);
  return true;
}
