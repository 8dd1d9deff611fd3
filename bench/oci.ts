// corral bench --only bwrap|runc|gvisor: a sandbox's start → runtime ready on the base image next to the raw
// runtime running /bin/true from the same image (a minimal bundle for runc and runsc, `runsc do true` too; a
// minimal `bwrap` for bwrap), in the same run; idle memory per sandbox.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { detectCgroups } from '../src/sandbox/oci/cgroup.ts';
import type { BenchHome } from './backend-harness.ts';
import { timeLaunches, withBenchHome } from './backend-harness.ts';
import { takeIdleLayer } from '../src/sandbox/layer/mount.ts';
import { pidsMentioning, rssMiB, withDescendants } from './procs.ts';
import type { Stats } from './stats.ts';
import { goalLine, stats, statRow, timeIt } from './stats.ts';

export type OciBenchBackend = 'runc' | 'gvisor';
export type ImageBenchBackend = OciBenchBackend | 'bwrap';

export interface OciBenchResult {
  backend: ImageBenchBackend;
  /** the raw runtime's own start and exit of /bin/true, and of node -e 0 (Node's own start on top) */
  rawTrue: Stats;
  rawNode: Stats;
  /** gVisor only: `runsc do true` (host root file system, no bundle) */
  rawDo?: Stats;
  runtimeReady: Stats;
  /** the same, with the agent's layer unmounted before each start (as after its idle time, or a first start) */
  runtimeReadyFreshLayer: Stats;
  ratio: number;
  /** resident memory of one sandbox with an idle runtime: its processes plus the runtime's own (MiB) */
  idleSandboxMiB: number;
  /** the agent layer's fuse-overlayfs server, shared by that agent's sandboxes (MiB) */
  idleLayerMiB: number;
}

/**
 * Runs a raw baseline quietly; it fails unless the command exits 0. Its environment is as bare as a sandbox's: a
 * variable of the caller's such as NODE_EXTRA_CA_CERTS adds ~80 ms to Node's start and would flatter every ratio.
 */
export function run(argv: string[]): Promise<void> {
  const [cmd = '', ...args] = argv;
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: 'ignore', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' } });
    c.on('error', reject);
    c.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${String(code)}`)),
    );
  });
}

/** The smallest bundle a runtime runs: the image read-only as /, proc and an empty /dev, default namespaces. */
export function rawBundle(dir: string, rootfs: string, args: string[], id: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const config = {
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/usr/bin:/bin'], cwd: '/' },
    root: { path: rootfs, readonly: true },
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: [] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'mode=755'] },
    ],
    linux: {
      namespaces: ['pid', 'ipc', 'uts', 'mount', 'network'].map((type) => ({ type })),
      cgroupsPath: `/corral/${id}`,
    },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
}

/** Processes in the sandbox's own cgroup (runc's; gVisor's sandbox and gofer live in the one corral makes). */
function cgroupPids(sandboxId: string): number[] {
  const mode = detectCgroups();
  const base = mode.kind === 'v1' ? mode.controllers['memory'] : mode.kind === 'v2' ? mode.root : undefined;
  if (base === undefined) return [];
  try {
    return fs
      .readFileSync(path.join(base, 'corral', sandboxId, 'cgroup.procs'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** The raw runtime's argv prefix (its own state directory, gVisor's platform as the backend chose it). */
export async function rawRuntime(
  b: BenchHome,
  backend: OciBenchBackend,
  stateDir: string,
): Promise<string[]> {
  const probe = await b.opened.sandboxes.get(backend).probe();
  const platform = probe.ok ? (/platform (\w+)/.exec(probe.detail)?.[1] ?? 'ptrace') : 'ptrace';
  return backend === 'runc'
    ? ['runc', '--root', stateDir]
    : ['runsc', '--root', stateDir, `--platform=${platform}`, '--network=none'];
}

/** bwrap's smallest sandbox on the image: its own namespaces, the image read-only as /, proc and a minimal /dev. */
export function rawBwrapArgs(rootfs: string, args: string[]): string[] {
  return [
    'bwrap',
    '--unshare-all',
    '--die-with-parent',
    '--ro-bind',
    rootfs,
    '/',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    ...args,
  ];
}

export async function runOciBench(opts: {
  backend: ImageBenchBackend;
  iterations: number;
  progress: (msg: string) => void;
}): Promise<OciBenchResult> {
  const n = opts.iterations;
  const rawDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-raw-'));
  try {
    return await withBenchHome(
      {
        backend: opts.backend,
        agents: ['bench'],
        prefix: `corral-bench-${opts.backend}-`,
        noImage: 'no base image, and none can be built here: see corral doctor',
        progress: opts.progress,
      },
      async (b) => {
        const image = b.image;
        if (image === undefined) throw new Error('no base image');
        const backend = opts.backend;
        const runtime = backend === 'bwrap' ? [] : await rawRuntime(b, backend, path.join(rawDir, 'state'));
        let k = 0;
        const rawRun = async (args: string[]): Promise<void> => {
          if (backend === 'bwrap') return run(rawBwrapArgs(image.rootfs, args));
          const id = `bench-raw-${process.pid}-${++k}`;
          const bundle = path.join(rawDir, `b${k}`);
          rawBundle(bundle, image.rootfs, args, id);
          await run([...runtime, 'run', '--bundle', bundle, id]);
          fs.rmSync(bundle, { recursive: true, force: true });
        };
        opts.progress(`raw ${opts.backend} run of /bin/true`);
        await rawRun(['/bin/true']); // warm caches before measuring
        const rawTrue = await timeIt(n, () => rawRun(['/bin/true']));
        const rawNode = await timeIt(n, () => rawRun(['/usr/local/bin/node', '-e', '0']));
        const rawDo =
          opts.backend === 'gvisor' ? await timeIt(n, () => run([...runtime, 'do', '/bin/true'])) : undefined;

        opts.progress('sandbox start → runtime ready');
        const ready = await timeLaunches(b, 'bench', n);
        opts.progress('sandbox start → runtime ready, layer mounted afresh each time');
        // what `agent reset` does first: the idle mount kept for the agent's next sandbox goes
        const fresh = await timeLaunches(b, 'bench', n, () => takeIdleLayer(b.layerDir('bench')));

        opts.progress('idle memory');
        const idle = await b.launch('bench');
        await new Promise((r) => setTimeout(r, 1_000)); // let the runtime settle after its start
        // bwrap: its processes name the sandbox's run directory; what runs inside descends from them
        const inside = backend === 'bwrap' ? withDescendants(pidsMentioning(idle.id)) : cgroupPids(idle.id);
        const runtimeProc = pidsMentioning(`bundles/${idle.id}`).filter((p) => !inside.includes(p));
        const idleSandboxMiB = rssMiB([...inside, ...runtimeProc]);
        const idleLayerMiB = rssMiB(pidsMentioning(b.layerDir('bench')));
        await idle.stop();
        const result = {
          backend: opts.backend,
          rawTrue: stats(rawTrue),
          rawNode: stats(rawNode),
          ...(rawDo ? { rawDo: stats(rawDo) } : {}),
          runtimeReady: stats(ready),
          runtimeReadyFreshLayer: stats(fresh),
          idleSandboxMiB,
          idleLayerMiB,
        };
        return { ...result, ratio: result.runtimeReady.median / result.rawTrue.median };
      },
    );
  } finally {
    fs.rmSync(rawDir, { recursive: true, force: true });
  }
}

export function formatOciBench(r: OciBenchResult): string {
  const row = (name: string, s: Stats): string => statRow(name, s, { width: 40, base: r.rawTrue });
  const raw = r.backend === 'runc' ? 'runc run' : r.backend === 'gvisor' ? 'runsc run' : 'bwrap';
  return (
    `${r.backend}\n` +
    row(`raw ${raw} /bin/true`, r.rawTrue) +
    row(`raw ${raw} node -e 0`, r.rawNode) +
    (r.rawDo ? row('raw runsc do /bin/true', r.rawDo) : '') +
    row('sandbox start → runtime ready', r.runtimeReady) +
    row('  … layer mounted afresh for each start', r.runtimeReadyFreshLayer) +
    `idle memory: ${r.idleSandboxMiB} MiB per sandbox (its processes and the runtime's), ` +
    `${r.idleLayerMiB} MiB for the agent layer's fuse server (one per agent)\n` +
    goalLine(r.rawTrue, r.rawNode)
  );
}
