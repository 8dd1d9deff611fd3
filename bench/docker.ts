// corral bench --only docker: a Docker sandbox's start → runtime ready next to Docker's own create+start+wait of
// /bin/true (what `docker run` does), measured through the API in the same run, and idle memory per container.
import type { DockerApi } from '../src/sandbox/docker/api.ts';
import { LABEL } from '../src/sandbox/docker/containers.ts';
import { containerCreateBody } from '../src/sandbox/docker/create-body.ts';
import { baseImageRef, importBaseImage } from '../src/sandbox/docker/image.ts';
import { DEFAULT_LIMITS, MIB } from '../src/sandbox/types.ts';
import { timeLaunches, withBenchHome } from './backend-harness.ts';
import type { Stats } from './stats.ts';
import { goalLine, stats, statRow, timeIt } from './stats.ts';

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

let rawSeq = 0; // several raw runs may start in the same millisecond (the fleet bench)

/** `docker run --rm IMAGE CMD` through the API, with the same security settings a sandbox gets. */
export async function rawRun(
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
  const id = await api.containerCreate(`corral-bench-${process.pid}-${Date.now()}-${++rawSeq}`, {
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
  return withBenchHome(
    {
      backend: 'docker',
      agents: ['bench'],
      prefix: 'corral-bench-docker-',
      noImage: 'the Docker benchmark needs the base image: corral image build',
      ...(opts.runtime ? { config: { docker: { runtime: opts.runtime } } } : {}),
      progress: opts.progress,
    },
    async (b) => {
      const api = b.docker;
      const image = b.image;
      if (api === undefined || image === undefined) throw new Error('docker bench without Docker or image');
      opts.progress('base image (import into Docker once)');
      await importBaseImage(api, { imageDir: image.rootfs, imageId: image.id }, { log: b.log });
      const ref = baseImageRef(image.id);

      opts.progress('raw docker create+start+wait of /bin/true');
      await rawRun(api, ref, ['/bin/true'], opts.runtime); // warm caches before measuring
      const rawTrue = await timeIt(n, () => rawRun(api, ref, ['/bin/true'], opts.runtime));
      const rawNode = await timeIt(n, () =>
        rawRun(api, ref, ['/usr/local/bin/node', '-e', '0'], opts.runtime),
      );

      opts.progress('sandbox start → runtime ready');
      const ready = await timeLaunches(b, 'bench', n);

      opts.progress('idle memory, and start → ready beside a running session');
      const first = await b.launch('bench');
      const [held] = await api.containerList({ [LABEL.agent]: 'bench', [LABEL.kind]: 'layer' });
      if (held === undefined) throw new Error('the agent container is not there');
      await new Promise((r) => setTimeout(r, 1_000)); // let the runtime settle after its start
      const idleSandboxMiB = await memoryMiB(api, held.Id);
      const warm = await timeIt(n, async () => (await b.launch('bench')).stop());
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
    },
  );
}

export function formatDockerBench(r: DockerBenchResult): string {
  const row = (name: string, s: Stats): string => statRow(name, s, { width: 44, base: r.rawTrue });
  return (
    `docker (${r.runtime})\n` +
    row('raw create+start+wait /bin/true', r.rawTrue) +
    row('raw create+start+wait node -e 0', r.rawNode) +
    row('sandbox start → runtime ready', r.runtimeReady) +
    row('  … beside a running session (exec only)', r.runtimeReadyWarm) +
    `idle memory: ${r.idleSandboxMiB} MiB per sandbox (container with an idle runtime), ${r.idleContainerMiB} MiB for a bare container\n` +
    goalLine(r.rawTrue, r.rawNode)
  );
}
