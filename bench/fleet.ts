// corral bench --only fleet: N sandboxes of N distinct agents (N writable layers) started at once through the real
// launch path, per backend: wall time until all are ready, each one's ready time, the memory they hold together,
// and what is left behind once all are stopped; beside N raw /bin/true starts at once from the same run.
import path from 'node:path';
import type { RunningSandbox } from '../src/host/launch.ts';
import { homeId, LABEL } from '../src/sandbox/docker/containers.ts';
import { ociDirs } from '../src/sandbox/oci/backend.ts';
import { MIB } from '../src/sandbox/types.ts';
import type { BenchHome } from './backend-harness.ts';
import { BackendUnavailable, withBenchHome } from './backend-harness.ts';
import type { FleetBackend } from './fleet-raw.ts';
import { atOnce, rawLabel, rawStarts } from './fleet-raw.ts';
import { benchKernel, benchMicrovmConfig } from './microvm.ts';
import { pidsMentioning, pssMiB, rssMiB, withDescendants } from './procs.ts';
import type { Stats } from './stats.ts';
import { stats } from './stats.ts';

export const DEFAULT_FLEET_COUNT = 50;
/** Backends measured unless one is named: a microVM under TCG takes seconds per boot, so only on request. */
export const FLEET_BACKENDS: readonly FleetBackend[] = ['bwrap', 'runc', 'gvisor', 'docker'];
const SETTLE_MS = 1_000;

export interface FleetRound {
  /** launch of all N to the last one ready (or failed) */
  wallMs: number;
  /** each sandbox's start → runtime ready, from the common start (those that got there) */
  ready: Stats;
  /** sandboxes that did not start, by reason (e.g. the runtime not ready within READY_TIMEOUT_MS) */
  failures: { count: number; reason: string }[];
}

export interface FleetMemory {
  /** sandboxes up while measured */
  up: number;
  /** 'processes': RSS and PSS of the sandboxes' processes (runtime, fuse servers, VMM); 'cgroup': Docker's own */
  source: 'processes' | 'cgroup';
  sandboxesMiB: number;
  /** proportional set size of the same processes (shared pages split between them); processes only */
  sandboxesPssMiB?: number;
  /** the corral process's resident memory with N sandboxes up, minus before the first start (a GC may make it < 0) */
  hostGrowthMiB: number;
  totalMiB: number;
  perSandboxMiB: number;
}

export interface FleetBackendResult {
  backend: FleetBackend;
  count: number;
  /** the host's bound on sandboxes in their start phase at once (sandboxes.maxStarting) */
  maxStarting: number | undefined;
  raw: { what: string; wallMs: number; each: Stats; failures: { count: number; reason: string }[] };
  /** new agents: volumes, layers (and Docker's per-agent containers) created on the way */
  firstStart: FleetRound;
  /** the same agents again, their environments already there */
  restart: FleetRound;
  /** restart wall time over the raw wall time */
  ratio: number;
  memory: FleetMemory;
  /** what was found after the stops and after the teardown (empty: nothing) */
  leftBehind: { afterFirstStart: string[]; afterRestart: string[]; afterTeardown: string[] };
}

export interface FleetResult {
  count: number;
  backends: FleetBackendResult[];
  skipped: { backend: FleetBackend; reason: string }[];
}

const agentName = (i: number): string => `fleet${String(i).padStart(3, '0')}`;
/** an agent of its own for the backend's first start (its self-test), so the N are all new */
const WARM_UP = 'warmup';

/** Launches every agent at once; a launch that fails has cleaned up after itself (launchSandbox does). */
async function startAll(
  b: BenchHome,
  agents: readonly string[],
  tick: (k: number) => void,
): Promise<{ round: FleetRound; running: RunningSandbox[] }> {
  const running: RunningSandbox[] = [];
  const r = await atOnce(
    agents.map((a) => async () => running.push(await b.launch(a))),
    tick,
  );
  return { round: { wallMs: r.wallMs, ready: stats(r.eachMs), failures: r.failures }, running };
}

async function memoryOf(
  b: BenchHome,
  backend: FleetBackend,
  up: number,
  hostBefore: number,
): Promise<FleetMemory> {
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const hostGrowthMiB = Math.round(((process.memoryUsage().rss - hostBefore) / MIB) * 10) / 10;
  const done = (m: Omit<FleetMemory, 'up' | 'totalMiB' | 'perSandboxMiB' | 'hostGrowthMiB'>): FleetMemory => {
    // a collection in the host meanwhile can make its growth negative: that does not shrink the sandboxes
    const totalMiB = Math.round((m.sandboxesMiB + Math.max(0, hostGrowthMiB)) * 10) / 10;
    return { ...m, up, hostGrowthMiB, totalMiB, perSandboxMiB: Math.round((totalMiB / up) * 10) / 10 };
  };
  if (b.docker !== undefined) {
    // the containers' processes live under containerd's shims: Docker's cgroup figure, page cache excluded
    const api = b.docker;
    const listed = await api.containerList({ [LABEL.home]: homeId(b.home.root), [LABEL.kind]: 'layer' });
    let bytes = 0;
    for (const c of listed) bytes += (await api.containerMemory(c.Id)) ?? 0;
    return done({ source: 'cgroup', sandboxesMiB: Math.round((bytes / MIB) * 10) / 10 });
  }
  // every process that names this home or its bundles (bwrap, runc, runsc, fuse-overlayfs, QEMU), and their children
  const roots = [b.home.root, path.dirname(ociDirs(b.home.runDir, backend).base)];
  const pids = withDescendants(roots.flatMap((r) => pidsMentioning(r))).filter((p) => p !== process.pid);
  return done({ source: 'processes', sandboxesMiB: rssMiB(pids), sandboxesPssMiB: pssMiB(pids) });
}

async function fleetOn(
  backend: FleetBackend,
  count: number,
  progress: (msg: string) => void,
  maxStarting: number | undefined,
): Promise<FleetBackendResult> {
  const agents = Array.from({ length: count }, (_, i) => agentName(i));
  let afterTeardown: string[] = [];
  const tick =
    (what: string) =>
    (k: number): void => {
      if (k === count || k % Math.max(1, Math.round(count / 5)) === 0)
        progress(`${backend}: ${what} ${k}/${count}`);
    };
  const kernel = backend === 'microvm' ? benchKernel() : undefined;
  const result = await withBenchHome(
    {
      backend,
      agents: [...agents, WARM_UP],
      prefix: `corral-bench-fleet-${backend}-`,
      noImage: backend === 'bwrap' || backend === 'microvm' ? '' : 'no base image: corral image build',
      config: {
        ...(backend === 'microvm' ? benchMicrovmConfig(kernel) : {}),
        ...(maxStarting === undefined ? {} : { sandboxes: { maxStarting } }),
      },
      progress,
      onTeardown: (left) => (afterTeardown = left),
    },
    async (b) => {
      progress(`${backend}: ${count} raw ${rawLabel(backend)} at once`);
      const raw = await rawStarts(b, backend, count);
      let rawRun: Awaited<ReturnType<typeof atOnce>>;
      try {
        await raw.starts[0]?.(); // warm caches before measuring
        rawRun = await atOnce(raw.starts, tick('raw done'));
      } finally {
        raw.cleanup();
      }
      // the backend's self-test before its first sandbox is not part of what is measured
      await (await b.launch(WARM_UP)).stop();
      const hostBefore = process.memoryUsage().rss;

      progress(`${backend}: ${count} sandboxes of new agents at once`);
      const first = await startAll(b, agents, tick('ready'));
      for (const f of first.round.failures) progress(`${backend}: ${f.count} did not start: ${f.reason}`);
      await Promise.all(first.running.map((s) => s.stop()));
      const afterFirstStart = await b.leftBehind();

      progress(`${backend}: the same ${count} agents again`);
      const again = await startAll(b, agents, tick('ready'));
      for (const f of again.round.failures) progress(`${backend}: ${f.count} did not start: ${f.reason}`);
      progress(`${backend}: memory with ${count} up`);
      const memory = await memoryOf(b, backend, again.running.length, hostBefore).finally(() =>
        Promise.all(again.running.map((s) => s.stop())),
      );
      progress(`${backend}: stopped; looking for what is left`);
      const afterRestart = await b.leftBehind();
      return {
        backend,
        count,
        maxStarting: b.deps.startLimit?.limit,
        raw: {
          what: rawLabel(backend),
          wallMs: rawRun.wallMs,
          each: stats(rawRun.eachMs),
          failures: rawRun.failures,
        },
        firstStart: first.round,
        restart: again.round,
        ratio: again.round.wallMs / rawRun.wallMs,
        memory,
        leftBehind: { afterFirstStart, afterRestart, afterTeardown: [] },
      };
    },
  );
  return { ...result, leftBehind: { ...result.leftBehind, afterTeardown } };
}

export async function runFleetBench(opts: {
  count: number;
  backends: readonly FleetBackend[];
  progress: (msg: string) => void;
  /** sandboxes.maxStarting for the host (default: the host's own default) */
  maxStarting?: number;
}): Promise<FleetResult> {
  const out: FleetResult = { count: opts.count, backends: [], skipped: [] };
  for (const backend of opts.backends) {
    try {
      out.backends.push(await fleetOn(backend, opts.count, opts.progress, opts.maxStarting));
    } catch (err) {
      // only a backend this machine cannot run is skipped (and said so); anything else is a failure
      if (!(err instanceof BackendUnavailable)) throw err;
      opts.progress(`${backend}: skipped (${err.message})`);
      out.skipped.push({ backend, reason: err.message });
    }
  }
  return out;
}

export function formatFleetBench(r: FleetResult): string {
  const ms = (x: number): string => `${x.toFixed(0).padStart(6)} ms`;
  const lines: string[] = [`${r.count} sandboxes started at once (distinct agents, one writable layer each)`];
  for (const b of r.backends) {
    const mem = b.memory;
    const how =
      mem.source === 'cgroup'
        ? `${mem.sandboxesMiB} MiB Docker cgroup memory`
        : `${mem.sandboxesMiB} MiB RSS (${mem.sandboxesPssMiB ?? NaN} MiB PSS) of the sandboxes' processes`;
    const left = [
      ...b.leftBehind.afterFirstStart,
      ...b.leftBehind.afterRestart,
      ...b.leftBehind.afterTeardown,
    ];
    const row = (
      label: string,
      r: { wallMs: number; failures: { count: number; reason: string }[] },
      each: Stats,
      ratio?: number,
    ): string =>
      `  ${label.padEnd(44)} all ${ms(r.wallMs)}  each p50 ${ms(each.median)}  p95 ${ms(each.p95)}` +
      (ratio === undefined ? '' : `  ×${ratio.toFixed(1)} raw`) +
      r.failures.map((f) => `\n    ${f.count} of ${b.count} did not start: ${f.reason}`).join('');
    lines.push(
      `${b.backend} (the host starts at most ${b.maxStarting ?? 'all'} at once, the rest wait their turn)`,
      row(`raw ${b.raw.what}`, b.raw, b.raw.each),
      row('new agents → runtime ready', b.firstStart, b.firstStart.ready, b.firstStart.wallMs / b.raw.wallMs),
      row('same agents again → runtime ready', b.restart, b.restart.ready, b.ratio),
      `  memory with ${mem.up} up: ${mem.totalMiB} MiB = ${how} + the host's growth (${mem.hostGrowthMiB} MiB, counted when > 0); ${mem.perSandboxMiB} MiB per sandbox`,
      left.length === 0
        ? '  left behind after stop and teardown: nothing (processes, mounts, loop devices, cgroups, containers)'
        : `  LEFT BEHIND:\n${left.map((l) => `    ${l}`).join('\n')}`,
    );
  }
  for (const s of r.skipped) lines.push(`${s.backend}: skipped (${s.reason})`);
  return lines.join('\n') + '\n';
}
