// What a benchmark's sandboxes left behind once stopped: processes (fuse-overlayfs servers among them), mounts,
// loop devices, cgroups and Docker containers, each named so the report says what it found.
import fs from 'node:fs';
import path from 'node:path';
import type { DockerApi } from '../src/sandbox/docker/api.ts';
import { homeId, LABEL } from '../src/sandbox/docker/containers.ts';
import { mountsUnder } from '../src/sandbox/oci/mounts.ts';
import { parseMountinfo } from '../src/util/mountinfo.ts';
import { cmdlineOf, pidsMentioning } from './procs.ts';

const CGROUP_DEPTH = 6;
const POLL_MS = 200;
/** Marks a loop device another process's mount namespace still holds (see heldBy). */
const HELD_ELSEWHERE = 'still mounted in the mount namespace';

export interface LeftoverScope {
  /** paths only this benchmark's home uses: its root, the OCI backends' bundle directory */
  roots: readonly string[];
  /** the sandboxes started: their cgroups are named after them */
  sandboxIds: () => readonly string[];
  /**
   * mounts that are expected now (the agents' volumes, and their idle layers with the layers' fuse servers, while
   * the host is open)
   */
  expectedMount?: (mountpoint: string) => boolean;
  /** this home's Docker containers; `runningOnly` while agents keep their (stopped) per-agent containers */
  docker?: { api: DockerApi; homeDir: string; runningOnly: boolean };
}

function processes(roots: readonly string[], expectedMount?: (mountpoint: string) => boolean): string[] {
  const pids = new Set(roots.flatMap((r) => pidsMentioning(r)));
  pids.delete(process.pid);
  const found: string[] = [];
  for (const p of pids) {
    const cmd = cmdlineOf(p);
    const fuse = cmd.startsWith('fuse-overlayfs');
    // the server of an expected mount (its mount point is its last argument) is expected with it
    if (fuse && (expectedMount?.(cmd.slice(cmd.lastIndexOf(' ') + 1)) ?? false)) continue;
    found.push(`${fuse ? 'fuse-overlayfs server' : 'process'} ${p}: ${cmd.slice(0, 160)}`);
  }
  return found;
}

function loopDevices(roots: readonly string[]): string[] {
  const found: string[] = [];
  for (const dev of fs.existsSync('/sys/block') ? fs.readdirSync('/sys/block') : []) {
    if (!dev.startsWith('loop')) continue;
    let backing = '';
    try {
      backing = fs.readFileSync(`/sys/block/${dev}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue; // not attached
    }
    if (roots.some((r) => backing.startsWith(r + '/')))
      found.push(`loop device /dev/${dev}: ${backing}${heldBy(`/dev/${dev}`)}`);
  }
  return found;
}

/**
 * Which mount namespace still has the device mounted. Every namespace made while a volume was mounted (an image
 * build's, any tool's) gets a copy of the mount; unmounting a volume detaches those copies (see unmountImage),
 * so one found here is mounted somewhere else in that namespace: a sandbox's /workspace still running.
 */
function heldBy(device: string): string {
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    let info = '';
    try {
      info = fs.readFileSync(`/proc/${e}/mountinfo`, 'utf8');
    } catch {
      continue;
    }
    if (info.includes(` ${device} `))
      return ` (${HELD_ELSEWHERE} of pid ${e}: ${cmdlineOf(Number(e)).slice(0, 80)})`;
  }
  return '';
}

/** Directories named after a sandbox anywhere in the cgroup hierarchies (bwrap's, runc's, runsc's). */
function cgroups(ids: readonly string[]): string[] {
  if (ids.length === 0) return [];
  const mounts = parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8'))
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => m.mountPoint);
  const found: string[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (ids.some((id) => e.name.includes(id))) found.push(`cgroup ${p}`);
      else if (depth < CGROUP_DEPTH) walk(p, depth + 1);
    }
  };
  for (const m of new Set(mounts)) walk(m, 0);
  return found;
}

async function containers(d: NonNullable<LeftoverScope['docker']>): Promise<string[]> {
  let listed;
  try {
    listed = await d.api.containerList({ [LABEL.home]: homeId(d.homeDir) });
  } catch (err) {
    return [`docker containers not checked: ${err instanceof Error ? err.message : String(err)}`];
  }
  return listed
    .filter((c) => !d.runningOnly || c.State === 'running')
    .map((c) => `docker container ${c.Names[0] ?? c.Id.slice(0, 12)} (${c.State})`);
}

export async function leftBehind(scope: LeftoverScope): Promise<string[]> {
  const mounts = scope.roots
    .flatMap((r) => mountsUnder(r))
    .filter((m) => !(scope.expectedMount?.(m) ?? false))
    .map((m) => `mount ${m}`);
  return [
    ...processes(scope.roots, scope.expectedMount),
    ...mounts,
    ...(scope.expectedMount === undefined ? loopDevices(scope.roots) : []),
    ...cgroups(scope.sandboxIds()),
    ...(scope.docker ? await containers(scope.docker) : []),
  ];
}

/** What is still there once cleanup had `graceMs` to finish (a fuse server exits just after its unmount). */
export async function leftBehindAfter(scope: LeftoverScope, graceMs: number): Promise<string[]> {
  const until = Date.now() + graceMs;
  for (;;) {
    const found = await leftBehind(scope);
    if (found.length === 0 || Date.now() >= until) return found;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
