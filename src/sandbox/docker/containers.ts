// The containers behind Docker sandboxes: one long-lived container per agent (its writable layer is the agent's
// environment), or one container per session when the spec has no base image root.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { SandboxLimits, SandboxSpec } from '../types.ts';
import type { ContainerInfo, DockerApi } from './api.ts';
import type { StableBinds } from './binds.ts';
import type { BindMount } from './create-body.ts';
import { clearRestoreImage, newLayerId, readLayerId, readRestoreImage } from './layer-marker.ts';
import { containerCreateBody, fixedConfigHash, sandboxMounts, updatableLimits } from './create-body.ts';

export const LABEL = {
  home: 'corral.home',
  agent: 'corral.agent',
  sandbox: 'corral.sandbox',
  /** 'layer': an agent's long-lived container; 'session': removed when its sandbox stops */
  kind: 'corral.kind',
  config: 'corral.config',
  image: 'corral.image',
  /** the layer id written in the agent's layer dir (layer-marker.ts), and that dir */
  layer: 'corral.layer',
  layerDir: 'corral.layer-dir',
} as const;

/** Labels name the corral home by a hash of its path, so a reap never touches another installation's containers. */
export function homeId(homeDir: string): string {
  return crypto.createHash('sha256').update(path.resolve(homeDir)).digest('hex').slice(0, 12);
}

export function layerContainerName(home: string, agent: string): string {
  return `corral-${home}-a-${agent}`;
}

export function sessionContainerName(home: string, sessionKey: string): string {
  return `corral-${home}-s-${sessionKey}`;
}

/** Image repository the layer of an agent's container is committed to when the container must be re-created. */
export function layerRepo(home: string, agent: string): string {
  return `corral-layer-${home}-${agent}`;
}

/** Image repository an agent's snapshots are committed to (kept across resets; `snapshotRef(…, tag)`). */
export function snapshotRepo(home: string, agent: string): string {
  return `corral-snap-${home}-${agent}`;
}

export interface ContainerDeps {
  api: DockerApi;
  log: Logger;
  home: string;
  runtime: string | undefined;
}

/**
 * gVisor's file proxy (gofer) opens bind sources as the remapped root, not as host root: every directory above a
 * source must be searchable by others. Checked before the start, because a runsc start that fails there leaves
 * its sandbox process behind.
 */
export function assertSearchable(mounts: BindMount[]): void {
  for (const m of mounts) {
    for (let dir = path.dirname(path.resolve(m.source)); ; dir = path.dirname(dir)) {
      const st = fs.statSync(dir);
      if ((st.mode & 0o001) === 0) {
        throw new CorralError(
          'docker_runsc_path',
          `gVisor cannot reach ${m.source}: ${dir} is not searchable by other users`,
          `chmod o+x ${dir} (it stays unlistable), or use the runc runtime`,
        );
      }
      if (dir === path.dirname(dir)) break;
    }
  }
}

function body(
  deps: ContainerDeps,
  image: string,
  labels: Record<string, string>,
  mounts: BindMount[],
  limits: SandboxLimits,
  ephemeralHome: boolean,
) {
  if (deps.runtime === 'runsc') assertSearchable(mounts);
  return containerCreateBody(
    {
      image,
      labels,
      mounts,
      limits,
      ephemeralHome,
      ...(deps.runtime === undefined ? {} : { runtime: deps.runtime }),
    },
    deps.api.socketPath,
  );
}

/** A container for this session alone, with the session's own directories mounted directly. */
export async function createSessionContainer(
  deps: ContainerDeps,
  spec: SandboxSpec,
  sessionKey: string,
  image: string,
): Promise<string> {
  const labels = {
    [LABEL.home]: deps.home,
    [LABEL.agent]: spec.agent,
    [LABEL.sandbox]: spec.sandboxId,
    [LABEL.kind]: 'session',
  };
  return deps.api.containerCreate(
    sessionContainerName(deps.home, sessionKey),
    body(deps, image, labels, sandboxMounts(spec), spec.limits, true),
  );
}

async function updateLimits(deps: ContainerDeps, c: ContainerInfo, limits: SandboxLimits): Promise<void> {
  const want = updatableLimits(limits, deps.runtime);
  const have = c.HostConfig;
  if (have.Memory === want.Memory && have.NanoCpus === want.NanoCpus && have.PidsLimit === want.PidsLimit)
    return;
  await deps.api.containerUpdate(c.Id, want);
  deps.log.info('docker: limits of the agent container updated', { container: c.Name, ...want });
}

/**
 * The agent's container, created on first use from the base image. Mounts come from the stable per-agent
 * directories, so they never change between sessions; limits that Docker can update are updated in place.
 * When something fixed at creation differs (a new corral with other mounts or rlimits, another OCI runtime),
 * the container's layer is committed to an image and a new container is made from it: the agent keeps its
 * environment. `busy` says whether another live session uses the container (then it is not re-created now).
 */
export async function ensureLayerContainer(
  deps: ContainerDeps,
  spec: SandboxSpec,
  baseImage: string,
  binds: StableBinds,
  busy: boolean,
): Promise<string> {
  if (spec.root === undefined) throw new Error('ensureLayerContainer needs spec.root');
  const name = layerContainerName(deps.home, spec.agent);
  let existing = await deps.api.containerInspect(name);
  let layerId = readLayerId(spec.root.layerDir);
  if (
    existing !== undefined &&
    (layerId === undefined || existing.Config.Labels?.[LABEL.layer] !== layerId)
  ) {
    // the container of a layer directory that was dropped since: its environment goes with it
    if (busy) throw layerBusy(spec.agent, 'its layer directory was replaced');
    await dropLayerContainer(deps.api, deps.home, spec.agent);
    deps.log.info('docker: dropped the container of a removed layer', { agent: spec.agent });
    existing = undefined;
  }
  const restoreFrom = readRestoreImage(spec.root.layerDir);
  if (restoreFrom !== undefined && existing !== undefined) {
    if (busy) throw layerBusy(spec.agent, 'a snapshot was restored');
    await dropLayerContainer(deps.api, deps.home, spec.agent);
    existing = undefined;
  }
  layerId ??= newLayerId(spec.root.layerDir);
  const mounts = sandboxMounts({
    workspaceDir: spec.workspaceDir,
    runtimeDir: binds.runtimeDir,
    gatewayDir: binds.gatewayDir,
    ...(spec.caBundle === undefined ? {} : { caBundle: binds.caBundle }),
    extraReadOnly: spec.extraReadOnly,
  });
  const labels = {
    [LABEL.home]: deps.home,
    [LABEL.agent]: spec.agent,
    [LABEL.kind]: 'layer',
    [LABEL.image]: spec.root.imageId,
    [LABEL.layer]: layerId,
    [LABEL.layerDir]: path.resolve(spec.root.layerDir),
  };
  const wanted = body(deps, baseImage, labels, mounts, spec.limits, false);
  const hash = fixedConfigHash(wanted);
  wanted.Labels[LABEL.config] = hash;

  if (existing === undefined) {
    const id = await deps.api.containerCreate(name, { ...wanted, Image: restoreFrom ?? baseImage });
    if (restoreFrom !== undefined) {
      clearRestoreImage(spec.root.layerDir);
      deps.log.info('docker: agent container created from a snapshot', {
        agent: spec.agent,
        image: restoreFrom,
      });
    }
    return id;
  }
  if (existing.Config.Labels?.[LABEL.config] === hash) {
    await updateLimits(deps, existing, spec.limits);
    return existing.Id;
  }
  if (busy) throw layerBusy(spec.agent, 'its mounts, rlimits or runtime changed');
  // carry the layer over: commit it, create the new container from the commit, then drop the old one
  await deps.api.containerKill(existing.Id);
  await deps.api.containerWait(existing.Id);
  const repo = layerRepo(deps.home, spec.agent);
  await deps.api.containerCommit(existing.Id, repo, hash);
  const id = await recreate(deps, name, existing, { ...wanted, Image: `${repo}:${hash}` });
  const previous = existing.Config.Image;
  if (previous.startsWith(`${repo}:`) && previous !== `${repo}:${hash}`) await deps.api.imageRemove(previous);
  deps.log.info('docker: agent container re-created with its layer', {
    agent: spec.agent,
    image: `${repo}:${hash}`,
  });
  return id;
}

function layerBusy(agent: string, why: string): CorralError {
  return new CorralError(
    'docker_layer_busy',
    `the container of agent ${agent} must be re-created (${why}) while another session uses it`,
    'end the agent’s other sessions, then try again',
  );
}

/** Removes an agent's container and the images its layer was committed to. */
export async function dropLayerContainer(api: DockerApi, home: string, agent: string): Promise<void> {
  await api.containerRemove(layerContainerName(home, agent));
  for (const ref of await api.imageRefs(layerRepo(home, agent))) await api.imageRemove(ref);
}

async function recreate(
  deps: ContainerDeps,
  name: string,
  old: ContainerInfo,
  wanted: Parameters<DockerApi['containerCreate']>[1],
): Promise<string> {
  await deps.api.containerRemove(old.Id);
  return deps.api.containerCreate(name, wanted);
}
