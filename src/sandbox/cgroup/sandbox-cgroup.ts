// One cgroup per sandbox (one directory per hierarchy on v1): its limits, the counters that tell which limit
// stopped something, killing everything in it, and removing it.
import fs from 'node:fs';
import path from 'node:path';
import type { LimitMechanism, SandboxLimits } from '../types.ts';
import type { Controller } from './detect.ts';

const CPU_PERIOD_US = 100_000;
const KILL_WAIT_MS = 5_000;
const POLL_MS = 10;

/** The cgroup controllers a sandbox got, each with the directory that holds its files. */
export interface CgroupDirs {
  version: 1 | 2;
  dir: string;
  controllers: Controller[];
}

export type CgroupLimit = 'memoryBytes' | 'cpus' | 'maxProcesses';
const LIMIT_OF: Partial<Record<Controller, CgroupLimit>> = {
  memory: 'memoryBytes',
  cpu: 'cpus',
  pids: 'maxProcesses',
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function writeIfPresent(dir: string, file: string, value: string): boolean {
  const p = path.join(dir, file);
  if (!fs.existsSync(p)) return false;
  fs.writeFileSync(p, value);
  return true;
}

function readFile(dir: string, file: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dir, file), 'utf8');
  } catch {
    return undefined;
  }
}

/** `key value` lines (memory.events, pids.events, memory.oom_control) → the value of one key. */
export function counter(text: string | undefined, key: string): number {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text ?? '');
  return Number(m?.[1] ?? 0);
}

function applyLimits(d: CgroupDirs, limits: SandboxLimits): void {
  for (const c of d.controllers) {
    switch (c) {
      case 'memory':
        if (d.version === 1) {
          fs.writeFileSync(path.join(d.dir, 'memory.limit_in_bytes'), String(limits.memoryBytes));
          writeIfPresent(d.dir, 'memory.memsw.limit_in_bytes', String(limits.memoryBytes)); // no swap on top
        } else {
          fs.writeFileSync(path.join(d.dir, 'memory.max'), String(limits.memoryBytes));
          writeIfPresent(d.dir, 'memory.swap.max', '0');
        }
        break;
      case 'pids':
        fs.writeFileSync(path.join(d.dir, 'pids.max'), String(limits.maxProcesses));
        break;
      case 'cpu': {
        const quota = Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US));
        if (d.version === 1) {
          fs.writeFileSync(path.join(d.dir, 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
          fs.writeFileSync(path.join(d.dir, 'cpu.cfs_quota_us'), String(quota));
        } else fs.writeFileSync(path.join(d.dir, 'cpu.max'), `${quota} ${CPU_PERIOD_US}`);
        break;
      }
      case 'freezer':
        break;
    }
  }
}

/** How many times each limit stopped something so far: OOM kills, refused forks. Shared with other backends. */
export function readLimitCounters(dirs: CgroupDirs[]): { oomKills: number; forkRefusals: number } {
  let oomKills = 0;
  let forkRefusals = 0;
  for (const d of dirs) {
    if (d.controllers.includes('memory'))
      oomKills += counter(
        readFile(d.dir, d.version === 1 ? 'memory.oom_control' : 'memory.events'),
        'oom_kill',
      );
    if (d.controllers.includes('pids')) forkRefusals += counter(readFile(d.dir, 'pids.events'), 'max');
  }
  return { oomKills, forkRefusals };
}

export function procsOf(dir: string): number[] {
  return (readFile(dir, 'cgroup.procs') ?? '')
    .split('\n')
    .filter((l) => l !== '')
    .map(Number);
}

async function waitFor(test: () => boolean): Promise<boolean> {
  for (let waited = 0; waited < KILL_WAIT_MS; waited += POLL_MS) {
    if (test()) return true;
    await sleep(POLL_MS);
  }
  return test();
}

const killPids = (pids: number[]): void => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
};

/**
 * Kills every process in the sandbox's cgroups. v2: cgroup.kill. v1: freeze first when a freezer is there, so
 * nothing forks or exits (and frees its pid for reuse) between reading the list and the kill.
 */
export async function killAll(dirs: CgroupDirs[]): Promise<boolean> {
  const any = dirs[0];
  if (any === undefined) return true;
  const empty = (): boolean => procsOf(any.dir).length === 0;
  const v2 = dirs.find((d) => d.version === 2);
  if (v2 !== undefined && writeIfPresent(v2.dir, 'cgroup.kill', '1')) return waitFor(empty);
  const freezer = dirs.find((d) => d.controllers.includes('freezer'));
  for (let round = 0; round < 20 && !empty(); round++) {
    if (freezer !== undefined) {
      fs.writeFileSync(path.join(freezer.dir, 'freezer.state'), 'FROZEN');
      await waitFor(() => readFile(freezer.dir, 'freezer.state')?.trim() !== 'FREEZING');
    }
    killPids(procsOf(any.dir));
    if (freezer !== undefined) fs.writeFileSync(path.join(freezer.dir, 'freezer.state'), 'THAWED');
    await waitFor(empty);
  }
  return empty();
}

/** Removes the (empty) cgroup directories; a process that just died may keep one busy for a moment. */
export async function removeDirs(dirs: CgroupDirs[]): Promise<void> {
  for (const d of dirs) {
    await waitFor(() => {
      try {
        fs.rmdirSync(d.dir);
        return true;
      } catch (err) {
        return err instanceof Error && 'code' in err && err.code === 'ENOENT';
      }
    });
  }
}

/** Creates the sandbox's cgroup under each parent and writes its limits; undone again if any step fails. */
export function createSandboxCgroup(
  parents: { version: 1 | 2; dir: string; controllers: Controller[] }[],
  name: string,
  limits: SandboxLimits,
): CgroupDirs[] {
  const made: CgroupDirs[] = [];
  try {
    for (const p of parents) {
      const d = { version: p.version, dir: path.join(p.dir, name), controllers: p.controllers };
      fs.mkdirSync(d.dir);
      made.push(d);
      applyLimits(d, limits);
    }
    return made;
  } catch (err) {
    for (const d of made) fs.rmdirSync(d.dir);
    throw err;
  }
}

export function appliedBy(dirs: CgroupDirs[]): Partial<Record<CgroupLimit, LimitMechanism>> {
  const out: Partial<Record<CgroupLimit, LimitMechanism>> = {};
  for (const d of dirs)
    for (const c of d.controllers) {
      const limit = LIMIT_OF[c];
      if (limit !== undefined) out[limit] = d.version === 1 ? 'cgroup-v1' : 'cgroup-v2';
    }
  return out;
}
