// The start self-test, inside the sandbox: facts about the boundary as the runtime sees it, sent to the host in
// the `ready` frame. The host judges them against what it configured (src/sandbox/start-check.ts), so a sandbox
// cannot simply claim to be fine; the runtime itself decides nothing.
// Named imports only: the bundler turns a default import of a Node module into a copy of all its exports, which
// for node:fs alone cost ~0.6 ms of every start.
import { closeSync, lstatSync, openSync, readdirSync, readFileSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { StartReport } from '../protocol/frames.ts';
import { sha256Hex } from './sha256.ts';

const GATEWAY_CONNECT_TIMEOUT_MS = 3_000;

function read(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** `Max open files  4096  4096  files` → '4096' (the soft limit), 'unlimited' as is. */
export function softLimit(limits: string, name: string): string | undefined {
  for (const line of limits.split('\n'))
    if (line.startsWith(name)) return line.slice(name.length).trim().split(/\s+/)[0];
  return undefined;
}

/** A soft limit as /proc/self/limits shows it: a number, or 'unlimited'. */
function limitValue(v: unknown): string | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return v === 'unlimited' ? v : undefined;
}

function softOf(limits: unknown, name: string): string | undefined {
  if (typeof limits !== 'object' || limits === null) return undefined;
  const entry: unknown = Reflect.get(limits, name);
  return typeof entry === 'object' && entry !== null ? limitValue(Reflect.get(entry, 'soft')) : undefined;
}

/**
 * nofile and fsize (bytes) from /proc/self/limits, or, where there is none (gVisor), from Node's own diagnostic
 * report: its userLimits are getrlimit(2) in this process. It used to be `sh -c 'ulimit -n; ulimit -f'`, which
 * cost gVisor 70–85 ms of every start (a process of its own under ptrace) against ~11 ms for the report without
 * its network part.
 */
export function rlimits(limits: string): { nofile: string; fsize: string } {
  const nofile = softLimit(limits, 'Max open files');
  const fsize = softLimit(limits, 'Max file size');
  if (nofile !== undefined && fsize !== undefined) return { nofile, fsize };
  // excludeNetwork (Node >= 20.13) is not in this @types/node
  const excluded: unknown = Reflect.get(process.report, 'excludeNetwork');
  try {
    Reflect.set(process.report, 'excludeNetwork', true);
    // userLimits.file_size_blocks is rlim_cur as is: bytes, whatever its name says
    const user: unknown = Reflect.get(process.report.getReport(), 'userLimits');
    return { nofile: softOf(user, 'open_files') ?? '?', fsize: softOf(user, 'file_size_blocks') ?? '?' };
  } catch {
    return { nofile: '?', fsize: '?' };
  } finally {
    Reflect.set(process.report, 'excludeNetwork', excluded);
  }
}

function statusField(status: string, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
}

/** Device nodes in /dev and one level below (pts, shm…), as "name" or "dir/name". */
function devices(): string[] {
  const found: string[] = [];
  const walk = (dir: string, prefix: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      let st: Stats;
      try {
        st = lstatSync(join(dir, name));
      } catch {
        continue;
      }
      if (st.isCharacterDevice() || st.isBlockDevice()) found.push(prefix + name);
      else if (st.isDirectory() && depth > 0) walk(join(dir, name), `${prefix}${name}/`, depth - 1);
    }
  };
  walk('/dev', '', 1);
  return found.sort();
}

function procSysWritable(): string {
  try {
    // opening for writing is the test; nothing is written
    closeSync(openSync('/proc/sys/kernel/hostname', 'r+'));
    return 'writable';
  } catch (err) {
    return err instanceof Error && 'code' in err ? String(err.code) : 'error';
  }
}

function gatewayReachable(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('timeout');
    }, GATEWAY_CONNECT_TIMEOUT_MS);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('reachable');
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      resolve('code' in err ? String(err.code) : err.message);
    });
  });
}

/**
 * sha256 of each variable's value (the host compares them with what it gave; values never leave in clear), by the
 * runtime's own SHA-256: node:crypto's load alone cost more before `ready` (sha256.ts).
 */
export function envDigest(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = sha256Hex(v).slice(0, 32);
  return out;
}

const firstOf = (files: string[]): string | undefined => {
  for (const f of files) {
    const v = read(f)?.trim();
    if (v !== undefined) return v;
  }
  return undefined;
};

export async function collectStartReport(
  gatewaySocket: string,
  env: Record<string, string | undefined>,
): Promise<StartReport> {
  const status = read('/proc/self/status') ?? '';
  const limits = read('/proc/self/limits') ?? '';
  const facts: Record<string, string> = {
    uid: String(process.getuid?.() ?? -1),
    capeff: statusField(status, 'CapEff') ?? '?',
    capbnd: statusField(status, 'CapBnd') ?? '?',
    ...rlimits(limits),
    devices: devices().join(','),
    procsys: procSysWritable(),
    gateway: await gatewayReachable(gatewaySocket),
  };
  // the sandbox's own cgroup, where the backend shows it (v2 file first, then v1)
  const mem = firstOf(['/sys/fs/cgroup/memory.max', '/sys/fs/cgroup/memory/memory.limit_in_bytes']);
  if (mem !== undefined) facts['memcg'] = mem;
  const pids = firstOf(['/sys/fs/cgroup/pids.max', '/sys/fs/cgroup/pids/pids.max']);
  if (pids !== undefined) facts['pidscg'] = pids;
  return { facts, env: envDigest(env) };
}
