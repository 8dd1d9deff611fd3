// The `docker` backend: Docker Engine through its API on the Unix socket. Each agent has one long-lived
// container whose writable layer is its environment; each session is an exec in it, killed with it.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type {
  AppliedLimits,
  HostIds,
  LimitMechanism,
  Sandbox,
  SandboxBackend,
  SandboxExit,
  SandboxLimits,
  SandboxRoot,
  SandboxSpec,
} from '../types.ts';
import { GVISOR_DEVICES } from '../oci/gvisor.ts';
import type { DockerApi } from './api.ts';
import { createDockerApi } from './api.ts';
import type { StableBinds } from './binds.ts';
import { dropSessionLinks, pruneSessionLinks, refreshStableBinds, stableBinds } from './binds.ts';
import type { ContainerDeps } from './containers.ts';
import {
  createSessionContainer,
  ensureLayerContainer,
  homeId,
  LABEL,
  dropLayerContainer,
  layerContainerName,
  sessionContainerName,
  snapshotRepo,
} from './containers.ts';
import { clearRestoreImage, dropLayerId, readLayerId, setRestoreImage } from './layer-marker.ts';
import type { ExecSession } from './exec-session.ts';
import { startExecSession } from './exec-session.ts';
import { createDockerHttp, dockerSocketPath } from './http.ts';
import type { ImportProgress } from './image.ts';
import { importBaseImage } from './image.ts';
import type { OwnerRecords } from './owners.ts';
import { createOwnerRecords } from './owners.ts';
import type { DockerProbe } from './probe.ts';
import { availability, probeDocker } from './probe.ts';
import { serialByKey } from '../../util/serial.ts';

/** How long stop() waits for the session's stream to close after the kill before it stops waiting. */
const STOP_WAIT_MS = 10_000;

export interface DockerBackendOptions {
  log: Logger;
  /** $CORRAL_HOME: a hash of its path labels every container, so one installation never touches another's */
  homeDir: string;
  /** $CORRAL_HOME/run: which live corral process owns which container */
  runDir: string;
  /** an OCI runtime registered with dockerd instead of runc, e.g. 'runsc' (gVisor) */
  runtime?: string;
  isRoot?: boolean;
  /** default: DOCKER_HOST (unix:// only) or /var/run/docker.sock */
  socketPath?: string;
  /** the image for a spec without `root` (then each session gets a fresh container and nothing persists) */
  defaultRoot?: Pick<SandboxRoot, 'imageDir' | 'imageId'>;
  onImportProgress?: (p: ImportProgress) => void;
}

interface Ctx {
  api: DockerApi;
  deps: ContainerDeps;
  owners: OwnerRecords;
  log: Logger;
  lock: <T>(key: string, fn: () => Promise<T>) => Promise<T>;
  applied: AppliedLimits;
  runDir: string;
  runtime: string | undefined;
}

function sessionLimits(ctx: Ctx, spec: SandboxSpec) {
  return {
    limits: spec.limits,
    memoryHitEndsSandbox: ctx.runtime === 'runsc',
    ...(spec.diskQuota === true ? { diskQuotaDir: spec.workspaceDir } : {}),
  };
}

function appliedLimits(
  probe: Extract<DockerProbe, { ok: true }>,
  runtime: string | undefined,
  hostQuota: boolean,
): AppliedLimits {
  const cgroup: LimitMechanism = probe.info.CgroupVersion === '2' ? 'cgroup-v2' : 'cgroup-v1';
  const viaRuntime: LimitMechanism = runtime === undefined ? cgroup : 'runtime';
  return {
    memoryBytes: viaRuntime,
    cpus: viaRuntime,
    maxProcesses: viaRuntime,
    maxOpenFiles: 'rlimit',
    maxFileBytes: 'rlimit',
    // the host's volume bounds the workspace (without it RLIMIT_FSIZE, one file at a time); the container's own
    // layer lives in Docker's storage, which overlay2 cannot cap on ext4 (only on xfs with project quotas)
    diskBytes: hostQuota ? 'quota' : 'rlimit',
  };
}

/** For `corral doctor` and the limits contract: what Docker keeps weaker, and what differs under runsc. */
export function dockerLimitNotes(runtime: string | undefined): Partial<Record<keyof SandboxLimits, string>> {
  const notes: Partial<Record<keyof SandboxLimits, string>> = {
    diskBytes:
      "the agent volume bounds the workspace (RLIMIT_FSIZE, one file at a time, without it); the container's own layer lives in Docker's storage and is not bounded on ext4",
  };
  if (runtime === 'runsc') {
    notes.memoryBytes =
      "Docker's cgroup holds the whole gVisor sandbox (its kernel, the sentry, counts ~40 MiB): reaching the limit ends the sandbox, not one process";
    notes.maxProcesses =
      "enforced inside gVisor's kernel (RLIMIT_NPROC, fork fails with EAGAIN; the pids cgroup is only a backstop); the refusals are not counted, so they are not reported as a limit hit";
  }
  return notes;
}

export function createDockerBackend(opts: DockerBackendOptions): SandboxBackend {
  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  const api = createDockerApi(createDockerHttp(opts.socketPath ?? dockerSocketPath()));
  const log = opts.log;
  const home = homeId(opts.homeDir);
  const lock = serialByKey();
  const imports = new Map<string, Promise<string>>();
  let probed: Promise<DockerProbe> | undefined;

  const probe = (): Promise<DockerProbe> => {
    probed ??= probeDocker(api, { isRoot, runtime: opts.runtime }).then((p) => {
      if (!p.ok) probed = undefined; // re-checked next time: the operator may have fixed it
      return p;
    });
    return probed;
  };
  const ready = async (): Promise<Extract<DockerProbe, { ok: true }>> => {
    const p = await probe();
    if (!p.ok) throw new CorralError('backend_unavailable', `sandbox backend docker: ${p.reason}`, p.fix);
    return p;
  };
  const image = (root: Pick<SandboxRoot, 'imageDir' | 'imageId'>): Promise<string> => {
    let p = imports.get(root.imageId);
    if (p === undefined) {
      p = importBaseImage(api, root, {
        log,
        ...(opts.onImportProgress ? { onProgress: opts.onImportProgress } : {}),
      });
      p.catch(() => imports.delete(root.imageId));
      imports.set(root.imageId, p);
    }
    return p;
  };
  const deps: ContainerDeps = { api, log, home, runtime: opts.runtime };
  // drops the agent's container and layer records, refused while a session of it runs (caller holds its lock)
  const reset = (agent: string, layerDir: string): Promise<void> =>
    resetLayer(api, home, createOwnerRecords(opts.runDir), agent, layerDir, stableBinds(opts.runDir, agent));

  return {
    name: 'docker',
    probe: async () => availability(await probe()),
    async hostIdsFor(): Promise<HostIds> {
      return (await ready()).root;
    },
    async start(spec) {
      const p = await ready();
      const ctx: Ctx = {
        api,
        deps,
        owners: createOwnerRecords(opts.runDir),
        log,
        lock,
        applied: appliedLimits(p, opts.runtime, spec.diskQuota === true),
        runDir: opts.runDir,
        runtime: opts.runtime,
      };
      const root = spec.root ?? opts.defaultRoot;
      if (root === undefined) {
        throw new CorralError(
          'docker_needs_image',
          'the docker backend runs sandboxes on the corral base image, and none was given',
          'build it: corral image build',
        );
      }
      const ref = await image(root);
      return spec.root === undefined ? startSession(ctx, spec, ref) : startInLayer(ctx, spec, ref);
    },
    reap: (runDir) => reap(api, log, home, createOwnerRecords(runDir)),
    limitNotes: () => dockerLimitNotes(opts.runtime),
    limitMechanisms: async (diskQuota) => appliedLimits(await ready(), opts.runtime, diskQuota),
    ...(opts.runtime === 'runsc'
      ? {
          limitBehaviour: { memoryHitEnds: 'sandbox', processHitsReported: false } as const,
          ownDevices: GVISOR_DEVICES,
        }
      : {}),
    snapshotLayer: (agent, _layerDir, tag) =>
      lock(layerContainerName(home, agent), async () => {
        const name = layerContainerName(home, agent);
        refuseWhileRunning(createOwnerRecords(opts.runDir), name, agent, 'snapshotted');
        // no container yet: the environment is the base image, which the restore then starts from again
        if ((await api.containerInspect(name)) === undefined) return;
        await api.containerCommit(name, snapshotRepo(home, agent), tag);
      }),
    restoreLayer: (agent, layerDir, tag) =>
      lock(layerContainerName(home, agent), async () => {
        const name = layerContainerName(home, agent);
        refuseWhileRunning(createOwnerRecords(opts.runDir), name, agent, 'restored');
        const ref = `${snapshotRepo(home, agent)}:${tag}`;
        const saved = (await api.imageRefs(snapshotRepo(home, agent))).includes(ref);
        // the container goes now; the next session creates it from the snapshot's commit (or the base image)
        await dropLayerContainer(api, home, agent);
        clearRestoreImage(layerDir);
        if (saved) setRestoreImage(layerDir, ref);
      }),
    resetLayer: (agent, layerDir) => lock(layerContainerName(home, agent), () => reset(agent, layerDir)),
    purgeLayer: (agent, layerDir) =>
      lock(layerContainerName(home, agent), async () => {
        await reset(agent, layerDir);
        // the snapshots' commits outlive a reset on purpose; a purge is the end of the agent
        for (const ref of await api.imageRefs(snapshotRepo(home, agent))) await api.imageRemove(ref);
      }),
  };
}

/** A container for this session only, removed when it stops (the spec has no per-agent layer). */
async function startSession(ctx: Ctx, spec: SandboxSpec, ref: string): Promise<Sandbox> {
  const key = sessionKey(spec);
  ctx.owners.add(key, sessionContainerName(ctx.deps.home, key));
  let id: string | undefined;
  try {
    id = await createSessionContainer(ctx.deps, spec, key, ref);
    await ctx.api.containerStart(id);
    const exec = await startExecSession(ctx.api, ctx.log, {
      containerId: id,
      command: spec.command,
      env: spec.env,
      ...sessionLimits(ctx, spec),
    });
    const containerId = id;
    return sandbox(ctx, spec, exec, containerId, async () => {
      await ctx.api.containerKill(containerId);
      await waitOrGiveUp(exec.exited);
      await ctx.api.containerRemove(containerId);
      ctx.owners.remove(key);
    });
  } catch (err) {
    if (id !== undefined) await ctx.api.containerRemove(id).catch(() => undefined);
    ctx.owners.remove(key);
    throw err;
  }
}

/** Names this start: a host may start a sandbox id again once the first has ended (the contract does). */
function sessionKey(spec: SandboxSpec): string {
  return `${spec.sandboxId}-${crypto.randomBytes(3).toString('hex')}`;
}

/** An exec in the agent's long-lived container, started (and created) first when needed. */
async function startInLayer(ctx: Ctx, spec: SandboxSpec, ref: string): Promise<Sandbox> {
  const name = layerContainerName(ctx.deps.home, spec.agent);
  const binds = stableBinds(ctx.runDir, spec.agent);
  const key = sessionKey(spec);
  const { id, exec } = await ctx.lock(name, async () => {
    const others = ctx.owners.live().filter((r) => r.container === name);
    ctx.owners.add(key, name);
    try {
      pruneSessionLinks(binds, new Set(others.map((r) => r.sandboxId)));
      const env = refreshStableBinds(spec, key, binds);
      const containerId = await ensureLayerContainer(ctx.deps, spec, ref, binds, others.length > 0);
      await ctx.api.containerStart(containerId);
      const session = await startExecSession(ctx.api, ctx.log, {
        containerId,
        command: spec.command,
        env,
        ...sessionLimits(ctx, spec),
      });
      return { id: containerId, exec: session };
    } catch (err) {
      ctx.owners.remove(key);
      dropSessionLinks(key, binds);
      throw err;
    }
  });
  return sandbox(ctx, spec, exec, id, () =>
    ctx.lock(name, async () => {
      ctx.owners.remove(key);
      const othersLive = ctx.owners.live().some((r) => r.container === name);
      if (othersLive) {
        // the agent's other sessions keep the container: end this session's process only
        await killExecProcess(ctx.api, exec.execId);
      } else {
        await ctx.api.containerKill(id);
        await ctx.api.containerWait(id);
      }
      await waitOrGiveUp(exec.exited);
      dropSessionLinks(key, binds);
    }),
  );
}

async function killExecProcess(api: DockerApi, execId: string): Promise<void> {
  const e = await api.execInspect(execId).catch(() => undefined);
  if (e?.Running !== true || e.Pid <= 1) return;
  try {
    process.kill(e.Pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function waitOrGiveUp(p: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, STOP_WAIT_MS);
    void p.finally(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** how long the exec's own status (it polls up to 2 s for the exit code, and reads limit hits) may lag behind its container's end */
const CONTAINER_END_GRACE_MS = 10_000;

/**
 * The Sandbox of one exec: stop() runs `teardown` once. Like a process sandbox, the sandbox ends when its
 * command ends (background processes go with it), and `exited` resolves only once that teardown is done.
 */
function sandbox(
  ctx: Ctx,
  spec: SandboxSpec,
  exec: ExecSession,
  containerId: string,
  teardown: () => Promise<void>,
): Sandbox {
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= teardown()
      .catch((err: unknown) =>
        ctx.log.warn('docker: stopping a sandbox failed', { sandbox: spec.sandboxId, err: String(err) }),
      )
      .finally(() => exec.close());
    return stopping;
  };
  // A container killed from outside (its init, or the runtime's sandbox process under runsc) does not always end
  // the exec's stream: under gVisor the attach stays open. The container's own end ends the sandbox then, with
  // the exec's status if it arrives within a grace period, else as killed.
  const watch = new AbortController();
  const containerEnded = ctx.api.containerWait(containerId, watch.signal).then(
    async () =>
      Promise.race([
        exec.exited,
        new Promise<SandboxExit>((resolve) =>
          setTimeout(() => {
            // the memory cgroup may be what ended it (gVisor: the whole sandbox goes)
            const hit = exec.takeLimitHits().find((h) => h.limit === 'memoryBytes');
            resolve({ code: null, signal: 'SIGKILL', ...(hit === undefined ? {} : { limitHit: hit }) });
          }, CONTAINER_END_GRACE_MS).unref(),
        ),
      ]),
    // aborted (the exec ended first) or the engine is gone: the exec's own end decides
    () => exec.exited,
  );
  const exited = Promise.race([exec.exited, containerEnded]).then(async (exit) => {
    watch.abort();
    await stop();
    return exit;
  });
  return {
    id: spec.sandboxId,
    ...(exec.containerPid === undefined ? {} : { pid: exec.containerPid }),
    stdin: exec.stdin,
    stdout: exec.stdout,
    stderr: exec.stderr,
    exited,
    appliedLimits: ctx.applied,
    limitEvents: () => Promise.resolve(exec.takeLimitHits()),
    stop,
  };
}

/**
 * Containers of this corral home that no live corral process owns: session containers are removed, agent
 * containers stopped (they hold the agent's environment; only resetLayer removes them).
 */
async function reap(api: DockerApi, log: Logger, home: string, owners: OwnerRecords): Promise<string[]> {
  let listed;
  try {
    listed = await api.containerList({ [LABEL.home]: home });
  } catch (err) {
    log.debug('docker: nothing to reap, Docker is not reachable', { err: String(err) });
    return [];
  }
  const owned = new Set(owners.live().map((r) => r.container));
  const done: string[] = [];
  for (const c of listed) {
    const name = (c.Names[0] ?? c.Id).replace(/^\//, '');
    if (owned.has(name)) continue;
    if (c.Labels?.[LABEL.kind] === 'layer') {
      const layerDir = c.Labels[LABEL.layerDir];
      const agent = c.Labels[LABEL.agent];
      if (layerDir !== undefined && agent !== undefined && readLayerId(layerDir) !== c.Labels[LABEL.layer]) {
        await dropLayerContainer(api, home, agent);
        done.push(`docker: removed container ${name} (its layer directory ${layerDir} is gone)`);
        continue;
      }
      if (c.State !== 'running') continue;
      await api.containerKill(c.Id);
      await api.containerWait(c.Id);
      done.push(`docker: stopped container ${name} (its corral process is gone)`);
    } else {
      await api.containerRemove(c.Id);
      done.push(`docker: removed container ${name} (its corral process is gone)`);
    }
  }
  return done;
}

function refuseWhileRunning(owners: OwnerRecords, container: string, agent: string, what: string): void {
  if (owners.live().some((r) => r.container === container))
    throw new CorralError(
      'docker_layer_busy',
      `agent ${agent} has a running session; its environment cannot be ${what} now`,
      'end its sessions (or stop corral), then try again',
    );
}

async function resetLayer(
  api: DockerApi,
  home: string,
  owners: OwnerRecords,
  agent: string,
  layerDir: string,
  binds: StableBinds,
): Promise<void> {
  const name = layerContainerName(home, agent);
  if (owners.live().some((r) => r.container === name)) {
    throw new CorralError(
      'docker_layer_busy',
      `agent ${agent} has a running session; its environment cannot be reset now`,
      'end its sessions (or stop corral), then reset again',
    );
  }
  await dropLayerContainer(api, home, agent);
  if (layerDir !== '') {
    dropLayerId(layerDir);
    clearRestoreImage(layerDir);
  }
  fs.rmSync(binds.base, { recursive: true, force: true });
}
