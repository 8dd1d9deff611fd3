// Which cgroup controllers this process can use for sandboxes: v1 hierarchies (one per controller, as on hybrid
// hosts), the v2 unified hierarchy, or both; and the directory of the cgroup we run in on each.
import fs from 'node:fs';
import path from 'node:path';
import { parseMountinfo } from '../../util/mountinfo.ts';

export type Controller = 'memory' | 'pids' | 'cpu' | 'freezer';
/** Controllers a sandbox needs for its limits; freezer (v1 only) helps stop it cleanly. */
export const LIMIT_CONTROLLERS: Controller[] = ['memory', 'pids', 'cpu'];
const V1_CONTROLLERS: Controller[] = [...LIMIT_CONTROLLERS, 'freezer'];

export interface Hierarchy {
  version: 1 | 2;
  controllers: Controller[];
  /** where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory or /sys/fs/cgroup */
  mountPoint: string;
  /** the directory of the cgroup this process is in, inside that mount */
  ownDir: string;
}

export interface ProcSources {
  /** contents of /proc/self/cgroup */
  cgroup: string;
  /** contents of /proc/self/mountinfo */
  mountinfo: string;
}

export function readProcSources(): ProcSources {
  return {
    cgroup: fs.readFileSync('/proc/self/cgroup', 'utf8'),
    mountinfo: fs.readFileSync('/proc/self/mountinfo', 'utf8'),
  };
}

/** Our cgroup path as seen from a mount of its hierarchy whose root is `mountRoot`; undefined if outside it. */
function inside(mountPoint: string, mountRoot: string, cgroupPath: string): string | undefined {
  const rel = path.posix.relative(mountRoot, cgroupPath);
  if (rel.startsWith('..') || path.posix.isAbsolute(rel)) return undefined;
  return path.join(mountPoint, rel);
}

export function findHierarchies(src: ProcSources, readControllers = readV2Controllers): Hierarchy[] {
  const lines = src.cgroup
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [, ctrls = '', ...rest] = l.split(':');
      return { controllers: ctrls.split(','), path: rest.join(':') };
    });
  const mounts = parseMountinfo(src.mountinfo);
  const out: Hierarchy[] = [];
  const claimed = new Set<Controller>();
  for (const ctrl of V1_CONTROLLERS) {
    const line = lines.find((l) => l.controllers.includes(ctrl));
    const mount = mounts.find((m) => m.fsType === 'cgroup' && m.superOptions.includes(ctrl));
    if (line === undefined || mount === undefined) continue;
    const ownDir = inside(mount.mountPoint, mount.root, line.path);
    if (ownDir === undefined) continue;
    const same = out.find((h) => h.version === 1 && h.mountPoint === mount.mountPoint);
    if (same) same.controllers.push(ctrl);
    else out.push({ version: 1, controllers: [ctrl], mountPoint: mount.mountPoint, ownDir });
    claimed.add(ctrl);
  }
  const unified = lines.find((l) => l.controllers.length === 1 && l.controllers[0] === '');
  const mount2 = mounts.find((m) => m.fsType === 'cgroup2');
  if (unified !== undefined && mount2 !== undefined) {
    const ownDir = inside(mount2.mountPoint, mount2.root, unified.path);
    // what the top of the hierarchy offers: the cgroup we run in may not delegate it, an ancestor may (see parent.ts)
    const available = readControllers(mount2.mountPoint);
    const controllers = LIMIT_CONTROLLERS.filter((c) => !claimed.has(c) && available.includes(c));
    if (ownDir !== undefined && controllers.length > 0)
      out.push({ version: 2, controllers, mountPoint: mount2.mountPoint, ownDir });
  }
  return out;
}

/** Controllers a v2 cgroup's parent hands down to it (and so to any cgroup we make under it or above). */
function readV2Controllers(dir: string): string[] {
  try {
    return fs.readFileSync(path.join(dir, 'cgroup.controllers'), 'utf8').trim().split(/\s+/);
  } catch {
    return [];
  }
}

/** The cgroup directories (memory, pids, cpu, freezer) a process is in, e.g. to check they are gone later. */
export function cgroupDirsOfPid(pid: number): string[] {
  const cgroup = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  const mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return findHierarchies({ cgroup, mountinfo }, () => [...LIMIT_CONTROLLERS]).map((h) => h.ownDir);
}
