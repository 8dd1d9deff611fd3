// Shared by the backend benchmarks: a throwaway CORRAL_HOME with agents on one backend and a stand-in model,
// sandboxes launched through the real launch path (the host's own LaunchDeps), and a teardown that removes
// everything and then looks for what was left behind (processes, mounts, loop devices, cgroups, containers).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initHome } from '../src/cli/commands/init.ts';
import { saveAgent } from '../src/config/agent-files.ts';
import { loadConfig, saveConfig } from '../src/config/config-file.ts';
import type { HomePaths } from '../src/config/home.ts';
import { resolveHome } from '../src/config/home.ts';
import type { CorralConfig } from '../src/config/schema.ts';
import { AgentConfig } from '../src/config/schema.ts';
import { agentDataDir, unmountAgentVolume } from '../src/host/agent-volume.ts';
import { baseImageSource } from '../src/host/base-image.ts';
import type { LaunchDeps, RunningSandbox } from '../src/host/launch.ts';
import { launchSandbox } from '../src/host/launch.ts';
import type { OpenedHost } from '../src/host/open.ts';
import { openHost } from '../src/host/open.ts';
import type { DockerApi } from '../src/sandbox/docker/api.ts';
import { createDockerApi } from '../src/sandbox/docker/api.ts';
import { createDockerHttp, dockerSocketPath } from '../src/sandbox/docker/http.ts';
import type { BaseImage } from '../src/sandbox/image/index.ts';
import { ociDirs } from '../src/sandbox/oci/backend.ts';
import { mountsUnder } from '../src/sandbox/oci/mounts.ts';
import type { Logger } from '../src/util/log.ts';
import { createLogger, logLevelFrom } from '../src/util/log.ts';
import { startModelServer } from '../test/fixtures/model-server.ts';
import type { LeftoverScope } from './leftovers.ts';
import { leftBehindAfter } from './leftovers.ts';

/** How long cleanup may take to finish after a stop before what remains counts as left behind. */
export const LEFTOVER_GRACE_MS = 10_000;

/** The backend cannot run on this machine (its probe says why): a benchmark over several may skip it, saying so. */
export class BackendUnavailable extends Error {}

export interface BenchHome {
  home: HomePaths;
  log: Logger;
  opened: OpenedHost;
  /** the base image every sandbox runs on (undefined: bwrap's legacy layout on the host /usr) */
  image: BaseImage | undefined;
  /** the host's own launch dependencies, the base image resolved once */
  deps: LaunchDeps;
  /** the Docker API, for the docker backend */
  docker: DockerApi | undefined;
  launch(agent: string): Promise<RunningSandbox>;
  /** The agent's writable layer directory. */
  layerDir(agent: string): string;
  /**
   * What the sandboxes started so far left behind, after a grace for their cleanup: call it once they are all
   * stopped. The agents' volumes and (Docker) their stopped per-agent containers are expected while open.
   */
  leftBehind(): Promise<string[]>;
}

export interface BenchHomeOptions {
  backend: AgentConfig['backend'];
  agents: readonly string[];
  /** a directory name prefix under the temporary directory */
  prefix: string;
  /** what to say when the backend runs on the base image and there is none ('' when it may run without) */
  noImage: string;
  /** settings beside the stand-in provider (Docker's runtime, the microVM kernel) */
  config?: Partial<CorralConfig>;
  progress: (msg: string) => void;
  /** what was left behind once everything was removed (mounts, loop devices, processes) */
  onTeardown?: (leftBehind: string[]) => void;
}

/** Sandbox ids launched through a BenchHome, for the cgroup check. */
function tracked(launch: (agent: string) => Promise<RunningSandbox>, ids: string[]) {
  return async (agent: string): Promise<RunningSandbox> => {
    const s = await launch(agent);
    ids.push(s.id);
    return s;
  };
}

/** Errors only, unless CORRAL_LOG=debug|info|warn asks for more (debug shows each start's time per phase). */
export function benchLogger(): Logger {
  return createLogger({ level: logLevelFrom(process.env['CORRAL_LOG'], 'error') });
}

export async function withBenchHome<T>(opts: BenchHomeOptions, fn: (b: BenchHome) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  fs.chmodSync(dir, 0o711); // the agents' uids pass through to their volumes
  const server = await startModelServer();
  const log = benchLogger();
  const home = resolveHome({ CORRAL_HOME: dir });
  const docker =
    opts.backend === 'docker' ? createDockerApi(createDockerHttp(dockerSocketPath())) : undefined;
  const ids: string[] = [];
  const scope = (volumesOpen: boolean): LeftoverScope => ({
    roots: [home.root, path.dirname(ociDirs(home.runDir, opts.backend).base)],
    sandboxIds: () => ids,
    // while open: the agents' volumes, and their layers kept mounted (idle) for their next sandboxes
    ...(volumesOpen
      ? {
          expectedMount: (m: string) =>
            path.dirname(m) === home.dataDir || path.dirname(m) === path.join(home.runDir, 'layers'),
        }
      : {}),
    ...(docker ? { docker: { api: docker, homeDir: home.root, runningOnly: volumesOpen } } : {}),
  });
  try {
    initHome({ home, log, out: () => undefined, err: () => undefined });
    saveConfig(home, {
      ...loadConfig(home),
      providers: { stand: { kind: 'anthropic', baseUrl: server.url, keySecret: 'K' } },
      ...opts.config,
    });
    for (const name of opts.agents)
      saveAgent(home, AgentConfig.parse({ name, model: 'stand:claude-bench', backend: opts.backend }));
    const opened = openHost(home, log);
    opened.store.putSecret('K', 'bench-key');
    try {
      opts.progress('base image');
      const image = await baseImageSource(home)();
      if (image === undefined && opts.noImage !== '') throw new Error(opts.noImage);
      const probe = await opened.sandboxes.get(opts.backend).probe();
      if (!probe.ok) throw new BackendUnavailable(`${opts.backend}: ${probe.reason} (${probe.fix})`);
      const deps: LaunchDeps = {
        ...opened.launch,
        ...(image === undefined ? {} : { baseImage: () => Promise.resolve(image) }),
      };
      return await fn({
        home,
        log,
        opened,
        image,
        deps,
        docker,
        launch: tracked((agent) => launchSandbox(deps, { name: agent, backend: opts.backend }), ids),
        layerDir: (agent) => path.join(agentDataDir(home, agent), 'layer'),
        leftBehind: () => leftBehindAfter(scope(true), LEFTOVER_GRACE_MS),
      });
    } finally {
      // Docker keeps each agent's environment in a container of its own, outside this home
      if (opts.backend === 'docker')
        for (const agent of opts.agents)
          await opened.sandboxes
            .get('docker')
            .resetLayer?.(agent, path.join(agentDataDir(home, agent), 'layer'))
            .catch((err: unknown) => opts.progress(`docker: reset of ${agent} failed: ${String(err)}`));
      await opened.close();
      for (const agent of opts.agents) await unmountAgentVolume(home, agent);
    }
  } finally {
    await server.close();
    const left = await leftBehindAfter(scope(false), LEFTOVER_GRACE_MS);
    if (left.length > 0) opts.progress(`left behind: ${left.join('; ')}`);
    opts.onTeardown?.(left);
    // this throwaway home's bundle directory under /run, once nothing is mounted there
    const bundles = path.dirname(ociDirs(home.runDir, opts.backend).base);
    if (mountsUnder(bundles).length === 0) fs.rmSync(bundles, { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Start → runtime ready of `agent`'s sandbox, n times one after another, each stopped before the next. One
 * untimed start first makes what a first start makes once (the self-test, layer directories or disk, Docker's
 * per-agent container), so the figures are those of an agent that has run before. `before`, untimed, runs ahead
 * of each timed start.
 */
export async function timeLaunches(
  b: BenchHome,
  agent: string,
  n: number,
  before?: () => Promise<unknown>,
): Promise<number[]> {
  await (await b.launch(agent)).stop();
  const ready: number[] = [];
  for (let i = 0; i < n; i++) {
    await before?.();
    const t0 = performance.now();
    const s = await b.launch(agent);
    ready.push(performance.now() - t0);
    await s.stop();
  }
  return ready;
}
