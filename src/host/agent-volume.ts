// Where an agent's data lives on the host: its workspace and its writable layer, together in one directory
// that is, when corral runs as root, its own ext4 volume of the agent's disk limit (a quota the kernel enforces).
import fs from 'node:fs';
import path from 'node:path';
import type { HomePaths } from '../config/home.ts';
import type { HostIds } from '../sandbox/types.ts';
import { MIB } from '../sandbox/types.ts';
import { CorralError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { ensurePrivateDir } from './agent-dirs.ts';
import { createImage, growImage, mountImage, mountState, unmountImage } from './volume/ext4-image.ts';

/** Smallest volume worth making: ext4's own metadata takes a few MiB. */
export const MIN_DISK_BYTES = 64 * MIB;

export type DiskQuota =
  { mechanism: 'quota'; detail: string } | { mechanism: 'rlimit'; reason: string; fix: string };

export interface AgentVolume {
  /** the agent's data directory; the mount point of its volume when it has one */
  dir: string;
  /** mounted read-write at /workspace */
  workspaceDir: string;
  /** the agent's writable environment (see SandboxRoot.layerDir) */
  layerDir: string;
  /** how the disk limit is kept: a volume of that size, or only RLIMIT_FSIZE per file */
  disk: DiskQuota;
}

const exists = (p: string): boolean => fs.existsSync(p);

/** Can this host give each agent a volume? As root with mkfs.ext4 and loop devices, yes. */
export function diskQuotaSupport(isRoot: boolean): DiskQuota {
  if (!isRoot)
    return {
      mechanism: 'rlimit',
      reason:
        'corral is not root, so it cannot mount a volume per agent; only single files are limited (RLIMIT_FSIZE)',
      fix: 'run corral as root (as a service) for a disk quota per agent',
    };
  if (!['/usr/sbin/mkfs.ext4', '/sbin/mkfs.ext4'].some(exists))
    return { mechanism: 'rlimit', reason: 'mkfs.ext4 is missing', fix: 'apt-get install -y e2fsprogs' };
  if (!exists('/dev/loop-control'))
    return {
      mechanism: 'rlimit',
      reason: 'no loop devices (/dev/loop-control is missing)',
      fix: 'modprobe loop, or give the container /dev/loop-control and /dev/loop*',
    };
  return { mechanism: 'quota', detail: 'a loop-mounted ext4 volume per agent' };
}

export function agentDataDir(home: HomePaths, agent: string): string {
  return path.join(home.dataDir, agent);
}

const imageOf = (dataDir: string, agent: string): string => path.join(dataDir, `${agent}.ext4`);

/**
 * Makes sure the agent's data directory exists (its volume created, grown and mounted when quotas are
 * supported) and returns the workspace and layer directories inside it. Survives host restarts: a volume
 * that is no longer mounted is mounted again.
 */
export async function prepareAgentVolume(
  home: HomePaths,
  agent: string,
  diskBytes: number,
  opts: { ids: HostIds | undefined; isRoot: boolean; log: Logger },
): Promise<AgentVolume> {
  ensurePrivateDir(home.dataDir, 0o700);
  const dataDir = fs.realpathSync(home.dataDir); // loop devices record the canonical path of their file
  const dir = path.join(dataDir, agent);
  ensurePrivateDir(dir, 0o700);
  const disk = diskQuotaSupport(opts.isRoot);
  if (disk.mechanism === 'quota')
    await prepareImage(dataDir, agent, Math.max(diskBytes, MIN_DISK_BYTES), opts.log);
  const workspaceDir = path.join(dir, 'workspace');
  const layerDir = path.join(dir, 'layer');
  adoptLegacyWorkspace(home, agent, workspaceDir, disk, opts.log);
  ensurePrivateDir(workspaceDir, 0o700);
  ensurePrivateDir(layerDir, 0o700);
  // Only the top directory: never walk (and so never follow) what the agent put inside.
  if (opts.ids !== undefined) fs.chownSync(workspaceDir, opts.ids.uid, opts.ids.gid);
  return { dir, workspaceDir, layerDir, disk };
}

/** Workspaces used to live in $CORRAL_HOME/workspaces/NAME: move one over, or say where it is. */
function adoptLegacyWorkspace(
  home: HomePaths,
  agent: string,
  workspaceDir: string,
  disk: DiskQuota,
  log: Logger,
): void {
  const legacy = path.join(home.workspacesDir, agent);
  if (fs.existsSync(workspaceDir) || fs.lstatSync(legacy, { throwIfNoEntry: false })?.isDirectory() !== true)
    return;
  // a rename moves the directory entry itself; nothing inside is opened or followed
  if (disk.mechanism !== 'quota') fs.renameSync(legacy, workspaceDir);
  else
    log.warn(`the agent's earlier workspace stays at ${legacy}; copy what it needs into its volume`, {
      agent,
    });
}

async function prepareImage(dataDir: string, agent: string, bytes: number, log: Logger): Promise<void> {
  const file = imageOf(dataDir, agent);
  const dir = path.join(dataDir, agent);
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st === undefined) {
    if (fs.readdirSync(dir).length > 0)
      throw new CorralError(
        'volume_unexpected_files',
        `${dir} holds files but has no volume (${file} is missing)`,
        `move ${dir} away; corral makes a new, empty volume`,
      );
    await createImage(file, bytes);
    log.info('agent volume created', { agent, bytes });
  } else if (!st.isFile()) {
    throw new CorralError('unsafe_path', `${file} is not a plain file; refusing to use it`);
  }
  const m = mountState(file, dir);
  if (m.state === 'foreign')
    throw new CorralError(
      'volume_foreign',
      `${dir} has something else mounted (${m.source})`,
      `umount ${dir}`,
    );
  if (m.state === 'unmounted') await mountImage(file, dir, dataDir);
  if (!(await growImage(file, dir, bytes, dataDir)))
    log.warn('agent volume kept its size while a sandbox uses it; it grows at the next start', {
      agent,
      bytes,
    });
  // the file system's root: corral's alone; the agent reaches only what is bound into its sandbox
  fs.chmodSync(dir, 0o700);
}

/** Unmounts the agent's volume (for `agent rm --purge` and tests). Its data stays in the image file. */
export async function unmountAgentVolume(home: HomePaths, agent: string): Promise<void> {
  if (!fs.existsSync(home.dataDir)) return;
  const dataDir = fs.realpathSync(home.dataDir);
  await unmountImage(imageOf(dataDir, agent), path.join(dataDir, agent));
}

/** Unmounts and deletes the agent's data: workspace, writable layer and volume. */
export async function removeAgentVolume(home: HomePaths, agent: string): Promise<void> {
  await unmountAgentVolume(home, agent);
  if (!fs.existsSync(home.dataDir)) return;
  const dataDir = fs.realpathSync(home.dataDir);
  // rmSync removes links themselves, never what they point to
  fs.rmSync(path.join(dataDir, agent), { recursive: true, force: true });
  fs.rmSync(imageOf(dataDir, agent), { force: true });
}
