// cgroups for the OCI backends: which hierarchy this host has, the counters that say a limit was hit, and (for
// gVisor, whose runsc removes its cgroup before anyone can read it) a cgroup corral creates and limits itself.
import fs from 'node:fs';
import path from 'node:path';

/** v1 (including hybrid hosts such as this one, where the controllers live in v1), v2-only, or none usable. */
export type CgroupMode =
  { kind: 'v1'; controllers: Record<string, string> } | { kind: 'v2'; root: string } | { kind: 'none' };

/** Limit counters of one sandbox's cgroup, monotonic while it exists. */
export interface LimitCounters {
  oomKills: number;
  pidsRefused: number;
}

export function parseCgroupMounts(mountinfo: string): CgroupMode {
  const controllers: Record<string, string> = {};
  let unified: string | undefined;
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    const mountPoint = fields[4];
    const fsType = fields[sep + 1];
    const superOpts = fields[sep + 3];
    if (sep < 0 || mountPoint === undefined || superOpts === undefined) continue;
    if (fsType === 'cgroup2') unified ??= mountPoint;
    if (fsType !== 'cgroup') continue;
    for (const opt of superOpts.split(',')) {
      if (['memory', 'pids', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'blkio'].includes(opt))
        controllers[opt] = mountPoint;
    }
  }
  if (controllers['memory'] !== undefined) return { kind: 'v1', controllers };
  if (unified !== undefined && fs.existsSync(path.join(unified, 'cgroup.controllers'))) {
    const available = fs.readFileSync(path.join(unified, 'cgroup.controllers'), 'utf8');
    if (available.split(/\s+/).includes('memory')) return { kind: 'v2', root: unified };
  }
  return { kind: 'none' };
}

export function detectCgroups(): CgroupMode {
  try {
    return parseCgroupMounts(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  } catch {
    return { kind: 'none' };
  }
}

/** Whether swap can be limited (v1 needs swap accounting: memory.memsw.*). */
export function swapLimitable(mode: CgroupMode): boolean {
  if (mode.kind === 'v1') {
    const mem = mode.controllers['memory'];
    return mem !== undefined && fs.existsSync(path.join(mem, 'memory.memsw.limit_in_bytes'));
  }
  return mode.kind === 'v2';
}

/** "key value" lines (memory.events, pids.events, memory.oom_control) → the value of `key`, 0 when absent. */
export function keyedValue(text: string, key: string): number {
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined) return Number(v) || 0;
  }
  return 0;
}

function readOr(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function dirOf(mode: CgroupMode, controller: string, cgroupsPath: string): string | undefined {
  if (mode.kind === 'v2') return path.join(mode.root, cgroupsPath);
  if (mode.kind === 'v1') {
    const mount = mode.controllers[controller];
    return mount === undefined ? undefined : path.join(mount, cgroupsPath);
  }
  return undefined;
}

/** The counters now, or undefined once the cgroup is gone. */
export function readCounters(mode: CgroupMode, cgroupsPath: string): LimitCounters | undefined {
  const mem = dirOf(mode, 'memory', cgroupsPath);
  const pids = dirOf(mode, 'pids', cgroupsPath);
  if (mem === undefined) return undefined;
  const memText = readOr(path.join(mem, mode.kind === 'v2' ? 'memory.events' : 'memory.oom_control'));
  if (memText === undefined) return undefined;
  const pidsText = pids === undefined ? undefined : readOr(path.join(pids, 'pids.events'));
  return {
    oomKills: keyedValue(memText, 'oom_kill'),
    pidsRefused: pidsText === undefined ? 0 : keyedValue(pidsText, 'max'),
  };
}

export interface CgroupLimits {
  memoryBytes: number;
  swapLimit: boolean;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  pids: number;
}

const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'cpuacct', 'cpuset'];

/** mkdir one level below an existing cgroup; a v1 cpuset child starts empty and must copy its parent's sets */
function makeLevel(dir: string, cpuset: boolean): void {
  try {
    fs.mkdirSync(dir);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
  }
  if (!cpuset) return;
  for (const f of ['cpuset.cpus', 'cpuset.mems']) {
    const own = path.join(dir, f);
    if (fs.readFileSync(own, 'utf8').trim() === '')
      fs.writeFileSync(own, fs.readFileSync(path.join(path.dirname(dir), f)));
  }
}

function makePath(base: string, cgroupsPath: string, cpuset: boolean): string {
  let dir = base;
  for (const part of cgroupsPath.split('/').filter((p) => p !== '')) {
    dir = path.join(dir, part);
    makeLevel(dir, cpuset);
  }
  return dir;
}

/**
 * Creates the sandbox's cgroup and puts its limits in force before the runtime joins it. A runtime that finds
 * its cgroup already there leaves it (and its counters) alone when the sandbox ends, so they can be read.
 */
export function createLimitedCgroup(mode: CgroupMode, cgroupsPath: string, l: CgroupLimits): void {
  if (mode.kind === 'v1') {
    for (const c of V1_CONTROLLERS) {
      const mount = mode.controllers[c];
      if (mount !== undefined) makePath(mount, cgroupsPath, c === 'cpuset');
    }
    const mem = dirOf(mode, 'memory', cgroupsPath) ?? '';
    fs.writeFileSync(path.join(mem, 'memory.limit_in_bytes'), String(l.memoryBytes));
    if (l.swapLimit) fs.writeFileSync(path.join(mem, 'memory.memsw.limit_in_bytes'), String(l.memoryBytes));
    const pids = dirOf(mode, 'pids', cgroupsPath);
    if (pids !== undefined) fs.writeFileSync(path.join(pids, 'pids.max'), String(l.pids));
    const cpu = dirOf(mode, 'cpu', cgroupsPath);
    if (cpu !== undefined) {
      fs.writeFileSync(path.join(cpu, 'cpu.cfs_period_us'), String(l.cpuPeriodUs));
      fs.writeFileSync(path.join(cpu, 'cpu.cfs_quota_us'), String(l.cpuQuotaUs));
    }
  } else if (mode.kind === 'v2') {
    // each level must hand the controllers down to the next
    let dir = mode.root;
    for (const part of cgroupsPath.split('/').filter((p) => p !== '')) {
      fs.writeFileSync(path.join(dir, 'cgroup.subtree_control'), '+memory +pids +cpu');
      dir = path.join(dir, part);
      makeLevel(dir, false);
    }
    fs.writeFileSync(path.join(dir, 'memory.max'), String(l.memoryBytes));
    if (fs.existsSync(path.join(dir, 'memory.swap.max')))
      fs.writeFileSync(path.join(dir, 'memory.swap.max'), '0');
    fs.writeFileSync(path.join(dir, 'pids.max'), String(l.pids));
    fs.writeFileSync(path.join(dir, 'cpu.max'), `${l.cpuQuotaUs} ${l.cpuPeriodUs}`);
  }
}

/**
 * Removes the sandbox's cgroup in every hierarchy (rmdir: only succeeds once no process is left in it). Returns
 * the directories removed. Never touches the shared /corral parent, which other sandboxes use.
 */
export function removeCgroup(mode: CgroupMode, cgroupsPath: string): string[] {
  const dirs =
    mode.kind === 'v2'
      ? [path.join(mode.root, cgroupsPath)]
      : mode.kind === 'v1'
        ? [...new Set(Object.values(mode.controllers))].map((m) => path.join(m, cgroupsPath))
        : [];
  const removed: string[] = [];
  for (const dir of dirs) {
    try {
      fs.rmdirSync(dir);
      removed.push(dir);
    } catch {
      // absent (never created in that hierarchy), or still busy: the reaper tries again
    }
  }
  return removed;
}
