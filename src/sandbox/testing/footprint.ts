// What a running sandbox holds on the host, found from its own pid: its processes (those in its cgroups) and the
// cgroups themselves. Contract tests take it before stop() and check that all of it is gone after.
import fs from 'node:fs';
import path from 'node:path';
import { cgroupDirsOfPid } from '../cgroup/detect.ts';

/** pid plus start time: under a fork bomb pids wrap around quickly and a pid alone may name a newer process */
export interface Proc {
  pid: number;
  start: string;
}

function procStat(pid: number): { start: string; zombie: boolean } | undefined {
  try {
    // fields after the command name (which may hold spaces) start at ") "
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { start: rest[19] ?? '', zombie: rest[0] === 'Z' };
  } catch {
    return undefined;
  }
}

export function procOf(pid: number): Proc | undefined {
  const s = procStat(pid);
  return s === undefined ? undefined : { pid, start: s.start };
}

export function alive(p: Proc): boolean {
  const s = procStat(p.pid);
  return s !== undefined && s.start === p.start && !s.zombie;
}

/** Everything a running sandbox holds on the host: its processes and its cgroups (not the ones we are in). */
export interface Footprint {
  procs: Proc[];
  cgroups: string[];
}

/**
 * The sandbox whose first process is `pid`: that process and every process in its cgroups. Scoped by cgroup, not
 * by uid, so a uid shared with other sandboxes (Docker's remapped root) does not pull their processes in.
 */
export function footprint(pid: number): Footprint {
  const ours = new Set(cgroupDirsOfPid(process.pid));
  const cgroups = cgroupDirsOfPid(pid).filter((d) => !ours.has(d));
  const pids = new Set<number>([pid]);
  for (const d of cgroups)
    for (const p of fs.readFileSync(path.join(d, 'cgroup.procs'), 'utf8').split('\n'))
      if (p !== '') pids.add(Number(p));
  // A listed process may die and its pid go to a host process before we read it: keep only processes that
  // are still in the sandbox's cgroup after their start time was read.
  const name = cgroups[0] === undefined ? undefined : path.basename(cgroups[0]);
  const inSandbox = (p: number): boolean => {
    try {
      return name === undefined || fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(`/${name}\n`);
    } catch {
      return false;
    }
  };
  const procs = [...pids].flatMap((p) => {
    const proc = procOf(p);
    return proc !== undefined && inSandbox(p) && alive(proc) ? [proc] : [];
  });
  return { procs, cgroups };
}

/** "PID COMMAND LINE" for an assertion message, so a failure says what survived. */
export function describeProc(pid: number): string {
  try {
    return `${pid} ${fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()}`;
  } catch {
    return `${pid} (gone)`;
  }
}
