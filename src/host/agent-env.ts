// An agent's environment as a whole (writable layer + workspace): reset, snapshot, list, restore, purge.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { AgentConfig } from '../config/schema.ts';
import type { HomePaths } from '../config/home.ts';
import { ensureHostDir } from '../sandbox/layer/dirs.ts';
import { holdLayer, lockFile } from '../sandbox/layer/owner.ts';
import { dropLayer, ensureLayerIdle, removeTree } from '../sandbox/layer/reset.ts';
import {
  createSnapshot,
  restoreSnapshot,
  SNAPSHOT_DISK,
  snapshotDiskFile,
} from '../sandbox/layer/snapshot.ts';
import type { SandboxBackend } from '../sandbox/types.ts';
import type { Store } from '../store/types.ts';
import { CorralError } from '../util/errors.ts';
import type { Logger } from '../util/log.ts';
import { agentHostIds } from './agent-dirs.ts';
import type { AgentVolume } from './agent-volume.ts';
import { prepareAgentVolume } from './agent-volume.ts';
import { sandboxLimits } from './limits.ts';

export const SnapshotTag = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'use letters, digits, dot, dash and underscore (max 64)');

export const SnapshotManifest = z.object({
  version: z.literal(1),
  agent: z.string(),
  tag: SnapshotTag,
  created: z.string().describe('ISO time the snapshot was taken'),
  bytes: z.number().int().nonnegative().describe('size of the tar'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  members: z.array(z.string()).describe('what the tar holds, relative to the agent data directory'),
});
export type SnapshotManifest = z.infer<typeof SnapshotManifest>;

export interface AgentEnvDeps {
  home: HomePaths;
  store: Store;
  isRoot: boolean;
  log: Logger;
}

export function snapshotsDir(home: HomePaths, agent: string): string {
  return path.join(home.root, 'snapshots', agent);
}

/** The agent's data directory, its volume mounted again if the host restarted since. */
async function agentVolume(deps: AgentEnvDeps, agent: AgentConfig): Promise<AgentVolume> {
  const ids = agentHostIds(deps.store.ensureAgent(agent.name).id, deps.isRoot);
  return prepareAgentVolume(deps.home, agent.name, sandboxLimits(agent.limits).diskBytes, {
    ids,
    isRoot: deps.isRoot,
    log: deps.log,
  });
}

/** Drops the layer (the backend's own way if it has state elsewhere); refused while a sandbox runs on it. */
export async function resetAgentEnv(
  deps: AgentEnvDeps,
  agent: AgentConfig,
  backend: SandboxBackend | undefined,
): Promise<void> {
  const volume = await agentVolume(deps, agent);
  if (backend?.resetLayer !== undefined) await backend.resetLayer(agent.name, volume.layerDir);
  else await dropLayer(volume.layerDir);
}

/** 20261129-162000 (UTC), made unique with -2, -3… */
function defaultTag(dir: string, now: Date): string {
  const base = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  let tag = base;
  for (let i = 2; fs.existsSync(path.join(dir, `${tag}.json`)); i++) tag = `${base}-${i}`;
  return tag;
}

export async function snapshotAgentEnv(
  deps: AgentEnvDeps,
  agent: AgentConfig,
  tag: string | undefined,
  onProgress?: (bytes: number) => void,
  /** the agent's backend: one that keeps the environment elsewhere (Docker's container) saves it too */
  backend?: SandboxBackend,
): Promise<SnapshotManifest> {
  const volume = await agentVolume(deps, agent);
  const dir = snapshotsDir(deps.home, agent.name);
  ensureHostDir(path.dirname(dir), 0o700);
  ensureHostDir(dir, 0o700);
  const name = tag === undefined ? defaultTag(dir, new Date()) : SnapshotTag.parse(tag);
  if (fs.existsSync(path.join(dir, `${name}.json`))) {
    throw new CorralError(
      'snapshot_exists',
      `agent ${agent.name} already has a snapshot ${name}`,
      'pick another tag, or omit it for a timestamp',
    );
  }
  await ensureLayerIdle(volume.layerDir);
  const release = holdLayer(volume.layerDir, '(snapshot)');
  try {
    const file = path.join(dir, `${name}.tar`);
    const { bytes, sha256, disk } = await createSnapshot(volume.dir, file, onProgress);
    try {
      await backend?.snapshotLayer?.(agent.name, volume.layerDir, name);
    } catch (err) {
      fs.rmSync(file, { force: true });
      fs.rmSync(snapshotDiskFile(file), { force: true });
      throw err;
    }
    const manifest: SnapshotManifest = {
      version: 1,
      agent: agent.name,
      tag: name,
      created: new Date().toISOString(),
      bytes,
      sha256,
      // a microvm agent's environment is its disk image, kept beside the tar
      members: ['layer/upper', 'workspace', ...(disk ? [SNAPSHOT_DISK] : [])],
    };
    fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(manifest, null, 2) + '\n', {
      mode: 0o600,
    });
    return manifest;
  } finally {
    release();
  }
}

export function listSnapshots(home: HomePaths, agent: string): SnapshotManifest[] {
  const dir = snapshotsDir(home, agent);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => SnapshotManifest.parse(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))))
    .sort((a, b) => a.created.localeCompare(b.created));
}

export async function restoreAgentEnv(
  deps: AgentEnvDeps,
  agent: AgentConfig,
  tag: string,
  backend?: SandboxBackend,
): Promise<SnapshotManifest> {
  const found = listSnapshots(deps.home, agent.name).find((m) => m.tag === SnapshotTag.parse(tag));
  if (found === undefined) {
    throw new CorralError(
      'snapshot_unknown',
      `agent ${agent.name} has no snapshot ${tag}`,
      `see them: corral agent snapshot list ${agent.name}`,
    );
  }
  const volume = await agentVolume(deps, agent);
  await ensureLayerIdle(volume.layerDir);
  const release = holdLayer(volume.layerDir, '(restore)');
  try {
    const file = path.join(snapshotsDir(deps.home, agent.name), `${found.tag}.tar`);
    const disk = found.members.includes(SNAPSHOT_DISK) ? snapshotDiskFile(file) : undefined;
    if (disk !== undefined && !fs.existsSync(disk)) {
      throw new CorralError(
        'snapshot_corrupt',
        `${disk}, the environment of snapshot ${found.tag}, is missing`,
      );
    }
    await restoreSnapshot(
      volume.dir,
      file,
      found.sha256,
      (newLayer) => {
        fs.copyFileSync(lockFile(volume.layerDir), lockFile(newLayer));
      },
      disk,
    );
    // after the swap: the marker that says "start from the snapshot" belongs in the restored layer directory
    await backend?.restoreLayer?.(agent.name, volume.layerDir, found.tag);
  } finally {
    release();
  }
  // the workspace's top directory belongs to the agent's uid again at its next start (prepareAgentVolume)
  await agentVolume(deps, agent);
  return found;
}

/**
 * For `agent rm --purge`: refused while a sandbox runs on the layer; drops every snapshot, and what the agent's
 * backend keeps elsewhere (Docker: its container and the images its snapshots were committed to).
 */
export async function purgeAgentEnv(
  home: HomePaths,
  agent: string,
  layerDir: string,
  backend?: SandboxBackend,
): Promise<void> {
  if (fs.existsSync(layerDir)) await ensureLayerIdle(layerDir);
  await backend?.purgeLayer?.(agent, layerDir);
  removeTree(snapshotsDir(home, agent));
}
