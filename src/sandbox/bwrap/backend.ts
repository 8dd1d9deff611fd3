// The default backend: bubblewrap namespaces, no daemon. Each sandbox is one bwrap process tree in its own
// cgroups (where the host has them), which bound its memory, CPU and processes and let stop() kill it whole.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError, errorMessage } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { Cgroups, SandboxCgroup } from '../cgroup/manager.ts';
import { cgroupScope, createCgroups } from '../cgroup/manager.ts';
import { appliedBy } from '../cgroup/sandbox-cgroup.ts';
import { diskFull, diskHit } from '../disk-usage.ts';
import type { LayerLease, LayerPool } from '../layer/pool.ts';
import { layerAvailability } from '../layer/available.ts';
import { createLayerPool } from '../layer/pool.ts';
import { reapLayers } from '../layer/reap.ts';
import { dropLayer } from '../layer/reset.ts';
import type {
  HostIds,
  LimitHit,
  Sandbox,
  SandboxBackend,
  SandboxExit,
  SandboxLimits,
  SandboxSpec,
} from '../types.ts';
import { bwrapArgv, etcFiles } from './argv.ts';
import { appliedLimits, joinCgroupArgv } from './limits.ts';
import { probeBwrap } from './probe.ts';
import { bwrapRootArgv } from './root-argv.ts';

const STOP_GRACE_MS = 2_000;
/** exit status of a process killed by SIGKILL, as a shell or bwrap reports it */
const KILLED = 128 + 9;

function writeEtc(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(etcFiles())) {
    fs.writeFileSync(path.join(dir, name), content, { mode: 0o644 });
  }
}

export interface BwrapDeps {
  log: Logger;
  isRoot?: boolean;
  /** corral's run directory: agent layers are mounted under it (needed for specs with a root) */
  runDir?: string;
  /** how long an agent's layer stays mounted after its last sandbox, for its next one (default 0: unmounted) */
  idleLayerMs?: number;
  cgroups?: Cgroups;
}

/** Sandboxes without a runDir (older callers) share one scope per process. */
const scopeOf = (spec: SandboxSpec): string =>
  cgroupScope(spec.runDir === undefined ? `pid-${process.pid}` : path.dirname(spec.runDir));

export function createBwrapBackend(deps: BwrapDeps): SandboxBackend {
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;
  const layers =
    deps.runDir === undefined
      ? undefined
      : createLayerPool({
          runDir: deps.runDir,
          ...(deps.idleLayerMs === undefined ? {} : { idleMs: deps.idleLayerMs }),
        });
  const cgroups = deps.cgroups ?? createCgroups();
  const backend: SandboxBackend = {
    name: 'bwrap',
    mounts: true,
    probe: () => Promise.resolve(probeBwrap(isRoot)),
    start: (spec) => startBwrap(spec, { isRoot, log: deps.log, layers, cgroups }),
    reap: async (runDir) => [...(await cgroups.reap(cgroupScope(runDir))), ...(await reapLayers(runDir))],
    close: async () => layers?.close(),
    layerStats: () => layers?.stats() ?? { inUse: 0, idle: 0 },
    limitMechanisms: (diskQuota) => {
      const support = cgroups.support();
      const by = appliedBy(support.parents);
      const cg = (l: 'memoryBytes' | 'cpus' | 'maxProcesses') =>
        support.missing[l] === undefined ? (by[l] ?? 'none') : 'none';
      const procs = cg('maxProcesses');
      return Promise.resolve({
        memoryBytes: cg('memoryBytes'),
        cpus: cg('cpus'),
        maxProcesses: procs === 'none' && isRoot ? 'rlimit' : procs,
        maxOpenFiles: 'rlimit',
        maxFileBytes: 'rlimit',
        diskBytes: diskQuota ? 'quota' : 'rlimit',
      });
    },
    limitNotes: () => {
      const notes: Partial<Record<keyof SandboxLimits, string>> = { ...cgroups.support().missing };
      if (notes.maxProcesses !== undefined && !isRoot)
        notes.maxProcesses += '; RLIMIT_NPROC needs a uid per agent, which needs corral to run as root';
      return notes;
    },
  };
  // Keeping layers is what makes the host run agents on the base image (host/base-image.ts); where layers
  // cannot be mounted (an ordinary user without access to /dev/fuse) agents keep the legacy layout.
  if (layers !== undefined && layerAvailability(isRoot).ok)
    backend.resetLayer = (_agent, layerDir) => dropLayer(layerDir);
  return backend;
}

interface StartContext {
  isRoot: boolean;
  log: Logger;
  layers: LayerPool | undefined;
  cgroups: Cgroups;
}

/** Root inside maps to the agent's uid (corral as root) or to the caller: the layer shows its files as theirs. */
function layerIds(spec: SandboxSpec): HostIds {
  return spec.hostIds ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

async function mountRoot(spec: SandboxSpec, layers: LayerPool | undefined): Promise<LayerLease | undefined> {
  if (spec.root === undefined) return undefined;
  if (layers === undefined) {
    throw new CorralError(
      'sandbox_no_run_dir',
      'the bwrap backend was built without a run directory, so it cannot mount an agent layer',
    );
  }
  return layers.acquire({ imageDir: spec.root.imageDir, layerDir: spec.root.layerDir, ids: layerIds(spec) });
}

async function startBwrap(spec: SandboxSpec, ctx: StartContext): Promise<Sandbox> {
  const { log } = ctx;
  if (ctx.isRoot && spec.hostIds === undefined) {
    // Fail closed: as root without a uid of its own the agent would be host root.
    throw new CorralError(
      'sandbox_root_without_uid',
      'refusing to start a sandbox as host root without an agent uid',
    );
  }
  writeEtc(spec.etcDir);
  const lease = await mountRoot(spec, ctx.layers);
  let cg: SandboxCgroup | undefined;
  let child;
  try {
    cg = ctx.cgroups.create(scopeOf(spec), spec.sandboxId, spec.limits);
    const opts = { exists: (p: string): boolean => fs.existsSync(p), cgroupViews: cg?.views ?? [] };
    const argv = lease === undefined ? bwrapArgv(spec, opts) : bwrapRootArgv(spec, lease.path, opts);
    const [cmd, ...args] = joinCgroupArgv(cg, argv);
    if (cmd === undefined) throw new CorralError('sandbox_argv', 'empty sandbox command');
    // mount descriptors follow stdin, stdout and stderr (argv.ts MOUNT_FD_BASE)
    const fds = (spec.mounts ?? []).map((m) => m.fd);
    child = spawn(cmd, args, { env: spec.env, stdio: ['pipe', 'pipe', 'pipe', ...fds] });
    log.debug('sandbox started', { sandbox: spec.sandboxId, pid: child.pid, argv: [cmd, ...args].join(' ') });
  } catch (err) {
    await cg?.destroy();
    await lease?.release();
    throw err;
  }
  const proc = child;
  const { stdin, stdout, stderr } = proc;
  if (stdin === null || stdout === null || stderr === null) {
    proc.kill('SIGKILL');
    throw new CorralError('sandbox_stdio', 'the sandbox process has no standard streams');
  }
  const sandboxCgroup = cg;
  const pending: LimitHit[] = [];
  // Resolves once the process tree is gone, its cgroups removed and the layer given back, so the next sandbox
  // (or a reset) finds it free.
  const exited = new Promise<SandboxExit>((resolve) => {
    let done = false;
    const finish = async (code: number | null, signal: NodeJS.Signals | null): Promise<void> => {
      if (done) return;
      done = true;
      const hits = sandboxCgroup?.events() ?? [];
      pending.push(...hits);
      await sandboxCgroup
        ?.destroy()
        .catch((err: unknown) => log.warn('cgroup cleanup failed', { err: errorMessage(err) }));
      await lease
        ?.release()
        .catch((err: unknown) =>
          log.warn('layer unmount failed', { sandbox: spec.sandboxId, err: String(err) }),
        );
      // the runtime itself was OOM-killed: the whole sandbox ended because of the memory limit
      const memory = hits.find((h) => h.limit === 'memoryBytes');
      const killed = signal === 'SIGKILL' || code === KILLED;
      resolve({ code, signal, ...(memory !== undefined && killed ? { limitHit: memory } : {}) });
    };
    proc.once('error', () => void finish(null, null));
    proc.once('exit', (code, signal) => void finish(code, signal));
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        stdin.end();
        const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_GRACE_MS);
        proc.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
      await exited;
    })();
    return stopping;
  };
  let diskWasFull = false;
  const limitEvents = (): Promise<LimitHit[]> => {
    const hits = [...pending.splice(0), ...(sandboxCgroup?.events() ?? [])];
    const full = spec.diskQuota === true && diskFull(spec.workspaceDir);
    if (full && !diskWasFull) hits.push(diskHit(spec.limits));
    diskWasFull = full;
    return Promise.resolve(hits);
  };
  return {
    id: spec.sandboxId,
    stdin,
    stdout,
    stderr,
    exited,
    ...(proc.pid === undefined ? {} : { pid: proc.pid }),
    appliedLimits: appliedLimits(sandboxCgroup, spec),
    limitEvents,
    stop,
  };
}
