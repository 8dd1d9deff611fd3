// corral bench --only docker: a Docker sandbox's start → runtime ready next to Docker's own create+start+wait of
// /bin/true (what `docker run` does), measured through the API in the same run, and idle memory per container.
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
import type { DockerApi } from '../src/sandbox/docker/api.ts';
import { createDockerApi } from '../src/sandbox/docker/api.ts';
import { LABEL } from '../src/sandbox/docker/containers.ts';
import { containerCreateBody } from '../src/sandbox/docker/create-body.ts';
import { createDockerHttp, dockerSocketPath } from '../src/sandbox/docker/http.ts';
import { baseImageRef, importBaseImage } from '../src/sandbox/docker/image.ts';
import { DEFAULT_LIMITS, MIB } from '../src/sandbox/types.ts';
import { createLogger } from '../src/util/log.ts';
import { startModelServer } from '../test/fixtures/model-server.ts';
import type { Stats } from './stats.ts';
import { stats, timeIt } from './stats.ts';

export interface DockerBenchResult {
  runtime: string;
  rawTrue: Stats;
  rawNode: Stats;
  runtimeReady: Stats;
  /** ready when another session already runs the agent's container: an exec only */
  runtimeReadyWarm: Stats;
  ratio: number;
  /** memory of the agent's container with an idle runtime in it, and of an idle container alone (MiB) */
  idleSandboxMiB: number;
  idleContainerMiB: number;
}

/** `docker run --rm IMAGE CMD` through the API, with the same security settings a sandbox gets. */
async function rawRun(
  api: DockerApi,
  image: string,
  cmd: string[],
  runtime: string | undefined,
): Promise<void> {
  const body = containerCreateBody(
    {
      image,
      labels: { [LABEL.kind]: 'bench' },
      mounts: [],
      limits: DEFAULT_LIMITS,
      ...(runtime ? { runtime } : {}),
    },
    api.socketPath,
  );
  const id = await api.containerCreate(`corral-bench-${process.pid}-${Date.now()}`, {
    ...body,
    Cmd: cmd,
    HostConfig: { ...body.HostConfig, Init: true },
  });
  try {
    await api.containerStart(id);
    const code = await api.containerWait(id);
    if (code !== 0) throw new Error(`${cmd.join(' ')} exited ${code} in a raw container`);
  } finally {
    await api.containerRemove(id);
  }
}

/** Memory in use by a container, without its reclaimable page cache (what `docker stats` shows). */
async function memoryMiB(api: DockerApi, id: string): Promise<number> {
  const m = await api.containerMemory(id);
  return m === undefined ? NaN : Math.round((m / MIB) * 10) / 10;
}

export async function runDockerBench(opts: {
  iterations: number;
  progress: (msg: string) => void;
  runtime?: 'runsc';
}): Promise<DockerBenchResult> {
  const n = opts.iterations;
  const api = createDockerApi(createDockerHttp(dockerSocketPath()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'corral-bench-docker-'));
  fs.chmodSync(dir, 0o711);
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
      ...(opts.runtime ? { docker: { runtime: opts.runtime } } : {}),
    });
    saveAgent(home, AgentConfig.parse({ name: 'bench', model: 'stand:claude-bench', backend: 'docker' }));
    const opened = openHost(home, log);
    opened.store.putSecret('K', 'bench-key');
    try {
      opts.progress('base image (import into Docker once)');
      const image = await baseImageSource(home)();
      if (image === undefined)
        throw new Error('the Docker benchmark needs the base image: corral image build');
      await importBaseImage(api, { imageDir: image.rootfs, imageId: image.id }, { log });
      const ref = baseImageRef(image.id);

      opts.progress('raw docker create+start+wait of /bin/true');
      await rawRun(api, ref, ['/bin/true'], opts.runtime); // warm caches before measuring
      const rawTrue = await timeIt(n, () => rawRun(api, ref, ['/bin/true'], opts.runtime));
      const rawNode = await timeIt(n, () =>
        rawRun(api, ref, ['/usr/local/bin/node', '-e', '0'], opts.runtime),
      );

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
      const agent = { name: 'bench', backend: 'docker' };
      await (await launchSandbox(deps, agent)).stop(); // creates the agent's container
      const ready: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        const s = await launchSandbox(deps, agent);
        ready.push(performance.now() - t0);
        await s.stop();
      }

      opts.progress('idle memory, and start → ready beside a running session');
      const first = await launchSandbox(deps, agent);
      const [held] = await api.containerList({ [LABEL.agent]: 'bench', [LABEL.kind]: 'layer' });
      if (held === undefined) throw new Error('the agent container is not there');
      await new Promise((r) => setTimeout(r, 1_000)); // let the runtime settle after its start
      const idleSandboxMiB = await memoryMiB(api, held.Id);
      const warm = await timeIt(n, async () => (await launchSandbox(deps, agent)).stop());
      await first.stop();

      opts.progress('idle memory of a bare container');
      const body = containerCreateBody(
        { image: ref, labels: { [LABEL.kind]: 'bench' }, mounts: [], limits: DEFAULT_LIMITS },
        api.socketPath,
      );
      const bare = await api.containerCreate(`corral-bench-idle-${process.pid}`, body);
      let idleContainerMiB: number;
      try {
        await api.containerStart(bare);
        await new Promise((r) => setTimeout(r, 500));
        idleContainerMiB = await memoryMiB(api, bare);
      } finally {
        await api.containerRemove(bare);
      }
      await opened.sandboxes.get('docker').resetLayer?.('bench', path.join(home.dataDir, 'bench', 'layer'));
      const result = {
        runtime: opts.runtime ?? 'runc',
        rawTrue: stats(rawTrue),
        rawNode: stats(rawNode),
        runtimeReady: stats(ready),
        runtimeReadyWarm: stats(warm),
        idleSandboxMiB,
        idleContainerMiB,
      };
      return { ...result, ratio: result.runtimeReady.median / result.rawTrue.median };
    } finally {
      await opened.close();
      await unmountAgentVolume(home, 'bench');
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatDockerBench(r: DockerBenchResult): string {
  const row = (name: string, s: Stats): string =>
    `${name.padEnd(44)} median ${s.median.toFixed(1).padStart(7)} ms  p95 ${s.p95.toFixed(1).padStart(7)} ms  ×${(s.median / r.rawTrue.median).toFixed(2)} raw\n`;
  return (
    `docker (${r.runtime})\n` +
    row('raw create+start+wait /bin/true', r.rawTrue) +
    row('raw create+start+wait node -e 0', r.rawNode) +
    row('sandbox start → runtime ready', r.runtimeReady) +
    row('  … beside a running session (exec only)', r.runtimeReadyWarm) +
    `idle memory: ${r.idleSandboxMiB} MiB per sandbox (container with an idle runtime), ${r.idleContainerMiB} MiB for a bare container\n` +
    `goal: ready ≤ 1.2 × raw + Node's own start = ${(1.2 * r.rawTrue.median + (r.rawNode.median - r.rawTrue.median)).toFixed(1)} ms\n`
  );
}
