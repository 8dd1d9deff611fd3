// Starts one sandbox for an agent: its gateway socket, its workspace, the runtime, and waits until it is ready.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { HomePaths } from '../config/home.ts';
import {
  ENV_GATEWAY_SOCKET,
  SANDBOX_GATEWAY_SOCKET,
  SANDBOX_HOME,
  SANDBOX_RUNTIME_DIR,
} from '../protocol/sandbox-env.ts';
import type { SandboxRegistry } from '../sandbox/registry.ts';
import { judgeStartReport, startCheckError } from '../sandbox/start-check.ts';
import type { Sandbox, SandboxMount, SandboxSpec } from '../sandbox/types.ts';
import { ensureRuntimeBundle, RUNTIME_FILE } from '../sandbox/runtime-bundle.ts';
import { loadConfig } from '../config/config-file.ts';
import type { AgentMount } from '../config/governance.ts';
import type { AgentLimits } from '../config/schema.ts';
import type { Store } from '../store/types.ts';
import type { Logger } from '../util/log.ts';
import { startPhases } from '../util/phases.ts';
import type { BaseImageSource } from './base-image.ts';
import { imageSpec } from './base-image.ts';
import { agentHostIds, ensurePrivateDir } from './agent-dirs.ts';
import { prepareAgentVolume } from './agent-volume.ts';
import type { BackendGate } from './backend-gate.ts';
import type { ControlChannel } from './control.ts';
import { caEnv, sentinelEnv, writeCaBundle } from './sandbox-credentials.ts';
import type { SandboxCredentials } from './sandbox-credentials.ts';
import { openControlChannel } from './control.ts';
import { sandboxLimits } from './limits.ts';
import { agentMounts, closeMounts } from './agent-mounts.ts';
import type { Governance } from './authorize.ts';
import type { StartLimiter, StartSlot } from './start-limit.ts';

export const READY_TIMEOUT_MS = 15_000;
const SHUTDOWN_GRACE_MS = 1_000;

export interface GatewayPort {
  attach(opts: {
    agent: string;
    sandboxId: string;
    socketPath: string;
    owner?: { uid: number; gid: number };
  }): Promise<{ socketPath: string; close(): Promise<void> }>;
}

export interface LaunchDeps {
  home: HomePaths;
  store: Store;
  sandboxes: SandboxRegistry;
  gateway: GatewayPort;
  log: Logger;
  isRoot: boolean;
  /** probe + isolation self-test before a backend's first sandbox */
  gate?: BackendGate;
  /** node binary used inside the sandbox (legacy layout only; the base image has its own copy) */
  nodePath?: string;
  /** the base image every sandbox runs on, built on first need; without one: bwrap's legacy layout (host /usr) */
  baseImage?: BaseImageSource;
  /** sentinels for granted secrets and the gateway's CA; absent: no sentinel, system roots only */
  credentials?: SandboxCredentials;
  /** decides each mount (action `mount`); without it an agent that lists mounts does not start */
  governance?: Governance;
  /** secret values the start self-test makes sure are not in a sandbox's environment */
  secretValues?: () => readonly string[];
  /** bounds the sandboxes of this process in their start phase at once; without one, starts are not bounded */
  startLimit?: StartLimiter;
}

export interface RunningSandbox {
  id: string;
  agent: string;
  channel: ControlChannel;
  stop(): Promise<void>;
}

export function runtimeEnv(): Record<string, string> {
  return {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: SANDBOX_HOME,
    LANG: 'C.UTF-8',
    TERM: 'dumb',
    [ENV_GATEWAY_SOCKET]: SANDBOX_GATEWAY_SOCKET,
  };
}

/** The environment with a sentinel per grant and the CA variables, and the bundle those variables name. */
function credentialSpec(
  creds: SandboxCredentials | undefined,
  agent: { name: string; grants?: readonly string[] },
  runDir: string,
): { env: Record<string, string>; caBundle?: string } {
  const base = runtimeEnv();
  if (!creds) return { env: base };
  const sentinels = sentinelEnv(creds, agent.name, agent.grants ?? [], { ...base, ...caEnv() });
  return { env: { ...sentinels, ...base, ...caEnv() }, caBundle: writeCaBundle(runDir, creds) };
}

/** A node outside /usr (nvm, /opt/node) is exposed read-only at its install prefix, e.g. /opt/node-v20. */
export function nodeInstallDirs(nodePath: string): string[] {
  const prefix = path.dirname(path.dirname(nodePath));
  return nodePath.startsWith('/usr/') ? [] : [prefix];
}

/**
 * sandbox.start now, and sandbox.stop (with how it ended) once it is gone, however it ends; a limit that ended the
 * whole sandbox (its runtime OOM-killed) is also a limit.hit. Limits hit by single tools are audited per turn.
 */
function auditLifecycle(
  deps: LaunchDeps,
  agent: string,
  backend: string,
  sandbox: Sandbox,
  mounts: readonly SandboxMount[],
): void {
  const audit = (action: string, detail: Record<string, unknown>): void => {
    try {
      deps.store.appendAudit({
        actor: 'host',
        action,
        subject: agent,
        detail: { sandbox: sandbox.id, ...detail },
      });
    } catch (err) {
      deps.log.warn('audit failed', { action, sandbox: sandbox.id, err: String(err) }); // the store closed first
    }
  };
  audit('sandbox.start', {
    backend,
    ...(sandbox.pid === undefined ? {} : { pid: sandbox.pid }),
    ...(sandbox.appliedLimits ? { limits: sandbox.appliedLimits } : {}),
    mounts: mounts.map((m) => ({ host: m.hostPath, path: m.target, readOnly: m.readOnly })),
  });
  void sandbox.exited.then((exit) => {
    audit('sandbox.stop', {
      backend,
      code: exit.code,
      signal: exit.signal,
      ...(exit.limitHit ? { limit: exit.limitHit.limit } : {}),
    });
    if (exit.limitHit)
      audit('limit.hit', { limit: exit.limitHit.limit, message: exit.limitHit.message, wholeSandbox: true });
  });
}

export async function launchSandbox(
  deps: LaunchDeps,
  agent: {
    name: string;
    backend: string;
    grants?: readonly string[];
    limits?: AgentLimits;
    mounts?: readonly AgentMount[];
  },
  /** `signal`: the caller gave up (the host is stopping); a start still waiting for its turn never starts */
  opts: { signal?: AbortSignal } = {},
): Promise<RunningSandbox> {
  const phases = startPhases();
  const backend = deps.sandboxes.get(agent.backend);
  const wanted = agent.mounts ?? [];
  let mounts: SandboxMount[] = [];
  const image = deps.baseImage === undefined ? undefined : await deps.baseImage();
  phases.mark('image');
  await deps.gate?.ready(backend, image && { dir: image.rootfs, id: image.id });
  phases.mark('gate');
  const nodePath = deps.nodePath ?? process.execPath;
  const row = deps.store.ensureAgent(agent.name);
  const perAgent = agentHostIds(row.id, deps.isRoot);
  // Docker remaps root to its own uid range: the workspace and the gateway socket go to those ids
  const hostIds = backend.hostIdsFor ? await backend.hostIdsFor(perAgent) : perAgent;
  const limits = sandboxLimits(agent.limits);
  const volume = await prepareAgentVolume(deps.home, agent.name, limits.diskBytes, {
    ids: hostIds,
    isRoot: deps.isRoot,
    log: deps.log,
  });
  phases.mark('volume');
  const runtimeDir = await ensureRuntimeBundle(deps.home.cacheDir);
  phases.mark('runtimeBundle');
  const sandboxId = crypto.randomUUID();
  ensurePrivateDir(deps.home.runDir, 0o711);
  const runDir = path.join(deps.home.runDir, sandboxId);
  const gatewayDir = path.join(runDir, 'gw');
  ensurePrivateDir(runDir, 0o711);
  // Searchable but not listable or writable by the agent; the socket inside is chowned to the agent alone.
  ensurePrivateDir(gatewayDir, 0o711);

  const cleanups: (() => Promise<void>)[] = [
    () => Promise.resolve(fs.rmSync(runDir, { recursive: true, force: true })),
  ];
  let mountsOpen = true;
  const releaseMounts = (): void => {
    if (mountsOpen) closeMounts(mounts);
    mountsOpen = false;
  };
  const cleanup = async (): Promise<void> => {
    for (const c of cleanups.reverse())
      await c().catch((err: unknown) => deps.log.warn('cleanup failed', { err: String(err) }));
    cleanups.length = 0;
  };
  let slot: StartSlot | undefined;
  try {
    mounts = await agentMounts(deps.governance, agent.name, wanted, {
      allow: wanted.length === 0 ? [] : (loadConfig(deps.home).mounts?.allow ?? []),
      home: deps.home.root,
    });
    phases.mark('mounts');
    const endpoint = await deps.gateway.attach({
      agent: agent.name,
      sandboxId,
      socketPath: path.join(gatewayDir, 'gateway.sock'),
      ...(hostIds === undefined ? {} : { owner: hostIds }),
    });
    cleanups.push(() => endpoint.close());
    phases.mark('gateway');
    const spec: SandboxSpec = {
      sandboxId,
      agent: agent.name,
      runDir,
      workspaceDir: volume.workspaceDir,
      runtimeDir,
      gatewayDir,
      etcDir: path.join(runDir, 'etc'),
      hostIds,
      ...credentialSpec(deps.credentials, agent, runDir),
      limits,
      diskQuota: volume.disk.mechanism === 'quota',
      ...(image === undefined
        ? {
            extraReadOnly: nodeInstallDirs(nodePath),
            command: [nodePath, `${SANDBOX_RUNTIME_DIR}/${RUNTIME_FILE}`],
          }
        : imageSpec(image, volume.layerDir)),
      ...(mounts.length === 0 ? {} : { mounts }),
    };
    // the ready timeout counts from this start's turn, not from when it joined the queue
    slot = await deps.startLimit?.acquire(opts.signal);
    phases.mark('queued');
    const sandbox = await backend.start(spec);
    phases.mark('backendStart');
    releaseMounts(); // the sandbox holds its own copies (bwrap mounts them and closes them)
    cleanups.push(() => sandbox.stop());
    const channel = openControlChannel(sandbox, deps.log);
    auditLifecycle(deps, agent.name, backend.name, sandbox, mounts);
    await channel.ready(READY_TIMEOUT_MS + (backend.bootAllowanceMs?.() ?? 0));
    phases.mark('runtimeReady');
    slot?.release();
    // the start self-test: what the runtime saw from inside against what was configured; fail closed
    const failures = judgeStartReport(channel.startReport?.(), {
      env: spec.env,
      limits,
      applied: sandbox.appliedLimits,
      ...(backend.ownDevices === undefined ? {} : { ownDevices: backend.ownDevices }),
      ...(deps.secretValues === undefined ? {} : { secrets: deps.secretValues() }),
    });
    if (failures.length > 0) {
      deps.log.error('sandbox failed its start self-test', { agent: agent.name, failures });
      deps.store.appendAudit({
        actor: 'host',
        action: 'selftest.fail',
        subject: `backend:${backend.name}`,
        detail: { check: 'start', agent: agent.name, sandbox: sandboxId, failures },
      });
      throw startCheckError(agent.name, backend.name, failures);
    }
    phases.mark('judge');
    deps.log.debug('sandbox ready', {
      agent: agent.name,
      sandbox: sandboxId,
      backend: backend.name,
      phasesMs: phases.summary(),
    });
    let stopped: Promise<void> | undefined;
    const stop = (): Promise<void> => {
      stopped ??= (async () => {
        channel.send({ type: 'shutdown' });
        await Promise.race([sandbox.exited, new Promise((r) => setTimeout(r, SHUTDOWN_GRACE_MS).unref())]);
        await cleanup();
      })();
      return stopped;
    };
    return { id: sandboxId, agent: agent.name, channel, stop };
  } catch (err) {
    slot?.release();
    releaseMounts();
    await cleanup();
    throw err;
  }
}
