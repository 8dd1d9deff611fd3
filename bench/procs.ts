// Processes as the benchmarks see them through /proc: which belong to a sandbox, and the memory they hold.
import fs from 'node:fs';

const read = (file: string): string | undefined => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined; // the process is gone meanwhile
  }
};

const round1 = (mib: number): number => Math.round(mib * 10) / 10;

function sumKb(pids: readonly number[], file: string, field: RegExp): number {
  let kb = 0;
  for (const pid of new Set(pids)) kb += Number(field.exec(read(`/proc/${pid}/${file}`) ?? '')?.[1] ?? 0);
  return kb;
}

/** Resident memory of these processes together (MiB); pages they share are counted once per process. */
export function rssMiB(pids: readonly number[]): number {
  return round1(sumKb(pids, 'status', /VmRSS:\s+(\d+)/) / 1024);
}

/** Proportional set size (MiB): shared pages split between the processes that map them, so sums add up. */
export function pssMiB(pids: readonly number[]): number {
  return round1(sumKb(pids, 'smaps_rollup', /^Pss:\s+(\d+)/m) / 1024);
}

function allPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

/** The command line of a process, NUL separators as spaces ('' when it is gone or a kernel thread). */
export function cmdlineOf(pid: number): string {
  return (read(`/proc/${pid}/cmdline`) ?? '').replace(/\0/g, ' ').trim();
}

/** Processes whose command line mentions `needle` (a runtime's own process names its bundle or layer). */
export function pidsMentioning(needle: string): number[] {
  return allPids().filter((p) => (read(`/proc/${p}/cmdline`) ?? '').includes(needle));
}

/** The children of a process (virtiofsd forks once for its sandbox). */
export function childrenOf(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  return (read(`/proc/${pid}/task/${pid}/children`) ?? '')
    .trim()
    .split(/\s+/)
    .filter((p) => p !== '')
    .map(Number);
}

/** Parent of a process, from /proc/PID/stat (the field after the parenthesised name, which may hold spaces). */
function parentOf(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

/** The processes and all their descendants (whichever thread forked them: Go runtimes fork from any). */
export function withDescendants(pids: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const p of allPids()) {
    const parent = parentOf(p);
    if (parent !== undefined) children.set(parent, [...(children.get(parent) ?? []), p]);
  }
  const out = new Set<number>();
  const todo = [...pids];
  for (let p = todo.pop(); p !== undefined; p = todo.pop()) {
    if (out.has(p)) continue;
    out.add(p);
    todo.push(...(children.get(p) ?? []));
  }
  return [...out];
}
