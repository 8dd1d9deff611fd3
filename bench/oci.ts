// corral bench --only runc|gvisor: an OCI sandbox's start → runtime ready next to the raw runtime running /bin/true
// from a minimal bundle on the same base image (and `runsc do true`), in the same run; idle memory per sandbox.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initHome } from '../src/cli/commands/init.ts';
import { loadConfig, saveConfig } from '../src/config/config-file.ts';
import { saveAgent } from '../src/config/agent-files.ts';
import { resolveHome } from '../src/config/home.ts';
import { AgentConfig } from '../src/config/schema.ts';
import { unmountAgentVolume } from '../src/host/agent-volume.ts';
import { baseImageSource } from '../src/host/base-image.ts';
import { launchSandbox } from '../src/host/launch.ts';
import { openHost } from '../src/host/open.ts';
import { ociDirs } from '../src/sandbox/oci/backend.ts';
import { detectCgroups } from '../src/sandbox/oci/cgroup.ts';
import { mountsUnder } from '../src/sandbox/oci/mounts.ts';
import { createLogger } from '../src/util/log.ts';
import { startModelServer } from '../test/fixtures/model-server.ts';
import type { Stats } from './stats.ts';
import { stats, timeIt } from './stats.ts';

export type OciBenchBackend = 'runc' | 'gvisor';

export interface OciBenchResult {
  backend: OciBenchBackend;
  /** the raw runtime's own start and exit of /bin/true, and of node -e 0 (Node's own start on top) */
  rawTrue: Stats;
  rawNode: Stats;
  /** gVisor only: `runsc do true` (host root file system, no bundle) */
  rawDo?: Stats;
  runtimeReady: Stats;
  ratio: number;
  /** resident memory of one sandbox with an idle runtime: its processes plus the runtime's own (MiB) */
  idleSandboxMiB: number;
  /** the agent layer's fuse-overlayfs server, shared by that agent's sandboxes (MiB) */
  idleLayerMiB: number;
}

function run(argv: string[]): Promise<void> {
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
function rawBundle(dir: string, rootfs: string, args: string[]): void {
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
      cgroupsPath: `/corral/bench-raw-${process.pid}`,
    },
  };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
}

function rssMiB(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone meanwhile
    }
  }
  return Math.round((kb / 1024) * 10) / 10;
}

/** Processes whose command line mentions `needle` (the runtime's own process names the sandbox id). */
function pidsMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle)) found.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

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

export async function runOciBench(opts: {
  backend: OciBenchBackend;
  iterations: number;
  progress: (msg: string) => void;
}): Promise<OciBenchResult> {
  const n = opts.iterations;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `corral-bench-${opts.backend}-`));
  fs.chmodSync(dir, 0o711);
  const rawDir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-raw-'));
  const server = await startModelServer();
  const log = createLogger({ level: 'error' });
  const home = resolveHome({ CORRAL_HOME: dir });
  const ctx = { home, log, out: () => undefined, err: () => undefined };
  try {
    initHome(ctx);
    const config = loadConfig(home);
    saveConfig(home, {
      ...config,
      providers: { stand: { kind: 'anthropic', baseUrl: server.url, keySecret: 'K' } },
    });
    saveAgent(home, AgentConfig.parse({ name: 'bench', model: 'stand:claude-bench', backend: opts.backend }));
    const opened = openHost(home, log);
    opened.store.putSecret('K', 'bench-key');
    try {
      opts.progress('base image');
      const image = await baseImageSource(home)();
      if (image === undefined)
        throw new Error('no base image, and none can be built here: see corral doctor');
      const probe = await opened.sandboxes.get(opts.backend).probe();
      if (!probe.ok) throw new Error(`${opts.backend}: ${probe.reason} (${probe.fix})`);
      const platform = /platform (\w+)/.exec(probe.detail)?.[1] ?? 'ptrace';
      const state = path.join(rawDir, 'state');
      const runtime =
        opts.backend === 'runc'
          ? ['runc', '--root', state]
          : ['runsc', '--root', state, `--platform=${platform}`, '--network=none'];
      let k = 0;
      const rawRun = async (args: string[]): Promise<void> => {
        const bundle = path.join(rawDir, `b${++k}`);
        rawBundle(bundle, image.rootfs, args);
        await run([...runtime, 'run', '--bundle', bundle, `bench-raw-${process.pid}-${k}`]);
        fs.rmSync(bundle, { recursive: true, force: true });
      };
      opts.progress(`raw ${opts.backend} run of /bin/true`);
      await rawRun(['/bin/true']); // warm caches before measuring
      const rawTrue = await timeIt(n, () => rawRun(['/bin/true']));
      const rawNode = await timeIt(n, () => rawRun(['/usr/local/bin/node', '-e', '0']));
      const rawDo =
        opts.backend === 'gvisor' ? await timeIt(n, () => run([...runtime, 'do', '/bin/true'])) : undefined;

      opts.progress('sandbox start → runtime ready');
      const deps = {
        home,
        store: opened.store,
        sandboxes: opened.sandboxes,
        gateway: opened.gateway,
        log,
        isRoot: process.getuid?.() === 0,
        baseImage: () => Promise.resolve(image),
      };
      const agent = { name: 'bench', backend: opts.backend };
      await (await launchSandbox(deps, agent)).stop(); // self-test, layer directories
      const ready: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const s = await launchSandbox(deps, agent);
        ready.push(performance.now() - t0);
        await s.stop();
      }

      opts.progress('idle memory');
      const idle = await launchSandbox(deps, agent);
      await new Promise((r) => setTimeout(r, 1_000)); // let the runtime settle after its start
      const inside = cgroupPids(idle.id);
      const runtimeProc = pidsMentioning(`bundles/${idle.id}`).filter((p) => !inside.includes(p));
      const idleSandboxMiB = rssMiB([...inside, ...runtimeProc]);
      const idleLayerMiB = rssMiB(pidsMentioning(path.join(home.dataDir, 'bench', 'layer')));
      await idle.stop();
      const result = {
        backend: opts.backend,
        rawTrue: stats(rawTrue),
        rawNode: stats(rawNode),
        ...(rawDo ? { rawDo: stats(rawDo) } : {}),
        runtimeReady: stats(ready),
        idleSandboxMiB,
        idleLayerMiB,
      };
      return { ...result, ratio: result.runtimeReady.median / result.rawTrue.median };
    } finally {
      await opened.close();
      await unmountAgentVolume(home, 'bench');
    }
  } finally {
    await server.close();
    // this throwaway home's bundle directory under /run, once nothing is mounted there
    const bundles = path.dirname(ociDirs(home.runDir, opts.backend).base);
    if (mountsUnder(bundles).length === 0) fs.rmSync(bundles, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(rawDir, { recursive: true, force: true });
  }
}

export function formatOciBench(r: OciBenchResult): string {
  const row = (name: string, s: Stats): string =>
    `${name.padEnd(40)} median ${s.median.toFixed(1).padStart(7)} ms  p95 ${s.p95.toFixed(1).padStart(7)} ms  ×${(s.median / r.rawTrue.median).toFixed(2)} raw\n`;
  const raw = r.backend === 'runc' ? 'runc run' : 'runsc run';
  return (
    `${r.backend}\n` +
    row(`raw ${raw} /bin/true`, r.rawTrue) +
    row(`raw ${raw} node -e 0`, r.rawNode) +
    (r.rawDo ? row('raw runsc do /bin/true', r.rawDo) : '') +
    row('sandbox start → runtime ready', r.runtimeReady) +
    `idle memory: ${r.idleSandboxMiB} MiB per sandbox (its processes and the runtime's), ` +
    `${r.idleLayerMiB} MiB for the agent layer's fuse server (one per agent)\n` +
    `goal: ready ≤ 1.2 × raw + Node's own start = ${(1.2 * r.rawTrue.median + (r.rawNode.median - r.rawTrue.median)).toFixed(1)} ms\n`
  );
}
