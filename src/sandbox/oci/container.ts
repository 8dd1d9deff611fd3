// One running OCI container as a Sandbox: the runtime's foreground process carries the control stream on its
// stdio; its exit is read together with the cgroup's limit counters, then everything is taken down.
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Logger } from '../../util/log.ts';
import type { AppliedLimits, LimitHit, Sandbox, SandboxExit, SandboxLimits } from '../types.ts';
import type { CgroupMode, LimitCounters } from './cgroup.ts';
import { readCounters } from './cgroup.ts';
import { limitHit } from '../limit-hit.ts';
import { diskFull, diskHit } from '../disk-usage.ts';

/** after `kill`, how long the runtime may take to report the container gone before its own process is killed */
const STOP_GRACE_MS = 5_000;
const RUNTIME_CMD_TIMEOUT_MS = 15_000;
/** how runc and runsc report a container whose first process was killed with SIGKILL (128 + 9) */
const SIGKILL_EXIT = 137;
export const RUNTIME_ENV = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  LANG: 'C',
};

/** The runtime's command lines for one container, e.g. `runc --root S run --keep --bundle B ID`. */
export interface RuntimeCommands {
  run: string[];
  kill: string[];
  delete: string[];
}

export interface ContainerOptions {
  id: string;
  commands: RuntimeCommands;
  limits: SandboxLimits;
  applied: AppliedLimits;
  cgroups: CgroupMode;
  cgroupsPath: string;
  /** the container's host pid once the runtime has created it (runc: its init; runsc: the sandbox process) */
  readPid?: () => number | undefined;
  /** the workspace sits on a volume of the disk limit: a full volume is reported as a disk limit hit */
  diskQuota?: { workspaceDir: string };
  /** after the runtime's process is gone: delete the container, its cgroup and its bundle */
  cleanup: () => Promise<void>;
  log: Logger;
}

/** What a rise in the counters means, in one sentence per limit. */
export function countersToHits(
  before: LimitCounters,
  now: LimitCounters,
  limits: SandboxLimits,
  memoryConsequence?: string,
): LimitHit[] {
  const hits: LimitHit[] = [];
  if (now.oomKills > before.oomKills) hits.push(limitHit('memoryBytes', limits, memoryConsequence));
  if (now.pidsRefused > before.pidsRefused) hits.push(limitHit('maxProcesses', limits));
  return hits;
}

/** A pid the runtime wrote: a plain number (--pid-file), or runc's state.json with init_process_pid. */
export function readPidFrom(file: string): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined; // not created yet
  }
  let n = Number(text);
  if (text.startsWith('{')) {
    try {
      const state: unknown = JSON.parse(text);
      n = typeof state === 'object' && state !== null ? Number(Reflect.get(state, 'init_process_pid')) : NaN;
    } catch {
      return undefined; // being written
    }
  }
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function runTool(argv: string[]): Promise<{ ok: boolean; out: string }> {
  const [cmd = '', ...args] = argv;
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: RUNTIME_ENV, timeout: RUNTIME_CMD_TIMEOUT_MS, encoding: 'utf8' },
      (err, out, errOut) =>
        resolve({ ok: err === null, out: `${out}${errOut}`.trim() || (err?.message ?? '') }),
    );
  });
}

export function startContainer(opts: ContainerOptions): Sandbox {
  const [cmd = '', ...args] = opts.commands.run;
  const child = spawn(cmd, args, { env: RUNTIME_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
  opts.log.debug('sandbox started', { sandbox: opts.id, pid: child.pid, argv: opts.commands.run.join(' ') });
  const zero: LimitCounters = { oomKills: 0, pidsRefused: 0 };
  let seen = zero;
  let stopRequested = false;
  /** hits read from the cgroup as the container ended (it is deleted right after), for the next limitEvents() */
  const pending: LimitHit[] = [];

  const exited = new Promise<SandboxExit>((resolve) => {
    let settled = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (settled) return;
      settled = true;
      // the container is stopped but not deleted yet, so its cgroup (and the counters in it) still exist
      const final = readCounters(opts.cgroups, opts.cgroupsPath);
      const killed = code === SIGKILL_EXIT || signal === 'SIGKILL';
      const hits =
        final === undefined || stopRequested || !killed
          ? []
          : countersToHits(seen, final, opts.limits, 'the sandbox was stopped');
      const limitHit = hits.find((h) => h.limit === 'memoryBytes');
      // what happened to processes inside before the end, still unread: limitEvents() reports it after the exit
      if (final !== undefined && limitHit === undefined) {
        pending.push(...countersToHits(seen, final, opts.limits));
        seen = final;
      }
      void opts
        .cleanup()
        .catch((err: unknown) =>
          opts.log.warn('sandbox cleanup failed', { sandbox: opts.id, err: String(err) }),
        )
        .then(() => resolve({ code, signal, ...(limitHit ? { limitHit } : {}) }));
    };
    child.once('error', (err) => {
      opts.log.warn('sandbox runtime did not start', { sandbox: opts.id, err: err.message });
      finish(null, null);
    });
    child.once('exit', finish);
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        stopRequested = true;
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        const killed = await runTool(opts.commands.kill);
        if (!killed.ok) opts.log.debug('runtime kill', { sandbox: opts.id, out: killed.out });
        await exited;
        clearTimeout(timer);
      }
      await exited;
    })();
    return stopping;
  };

  let pid: number | undefined;
  const readPid = (): number | undefined => (pid ??= opts.readPid?.());
  let diskWasFull = false;

  return {
    id: opts.id,
    get pid() {
      return readPid();
    },
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    exited,
    appliedLimits: opts.applied,
    limitEvents() {
      const hits = pending.splice(0);
      const now = readCounters(opts.cgroups, opts.cgroupsPath);
      if (now !== undefined) {
        hits.push(...countersToHits(seen, now, opts.limits));
        seen = now;
      }
      const full = opts.diskQuota !== undefined && diskFull(opts.diskQuota.workspaceDir);
      if (full && !diskWasFull) hits.push(diskHit(opts.limits));
      diskWasFull = full;
      return Promise.resolve(hits);
    },
    stop,
  };
}
