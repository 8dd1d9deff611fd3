// The container and exec create bodies as data: the whole security configuration of a Docker sandbox is here.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  SANDBOX_CA_BUNDLE,
  SANDBOX_GATEWAY_DIR,
  SANDBOX_HOME,
  SANDBOX_RUNTIME_DIR,
  SANDBOX_WORKSPACE,
} from '../../protocol/sandbox-env.ts';
import { gvisorPidsLimit } from '../oci/gvisor.ts';
import { CorralError } from '../../util/errors.ts';
import type { SandboxLimits } from '../types.ts';
import { MIB } from '../types.ts';

/** /tmp is memory (charged to the container's memory limit) and capped on its own as well. */
export const TMP_BYTES = 128 * MIB;
/** The idle first process that keeps a container up between the execs of sessions; docker-init reaps orphans. */
export const IDLE_COMMAND = ['sleep', 'infinity'];

export interface BindMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface ContainerPlan {
  image: string;
  labels: Record<string, string>;
  mounts: BindMount[];
  limits: SandboxLimits;
  /** an OCI runtime registered with dockerd, e.g. 'runsc'; undefined: the daemon's default (runc) */
  runtime?: string;
  /** /root in memory too: a session container keeps nothing outside the workspace, like a process sandbox */
  ephemeralHome?: boolean;
}

/** The subset of Docker's ContainerConfig + HostConfig corral sets (API 1.41). */
export interface ContainerCreateBody {
  Image: string;
  Cmd: string[];
  Hostname: string;
  User: string;
  WorkingDir: string;
  Env: string[];
  Labels: Record<string, string>;
  HostConfig: {
    NetworkMode: 'none';
    CapDrop: string[];
    CapAdd: string[];
    SecurityOpt: string[];
    Privileged: false;
    ReadonlyRootfs: false;
    Devices: never[];
    Init: true;
    IpcMode: 'private';
    CgroupnsMode: 'private';
    Tmpfs: Record<string, string>;
    Mounts: {
      Type: 'bind';
      Source: string;
      Target: string;
      ReadOnly: boolean;
      BindOptions: { Propagation: 'rprivate' };
    }[];
    Memory: number;
    MemorySwap: number;
    NanoCpus: number;
    PidsLimit: number;
    Ulimits: { Name: string; Soft: number; Hard: number }[];
    RestartPolicy: { Name: 'no' };
    LogConfig: { Type: 'none'; Config: Record<string, never> };
    Runtime?: string;
  };
}

export interface ExecCreateBody {
  AttachStdin: true;
  AttachStdout: true;
  AttachStderr: true;
  Tty: false;
  Privileged: false;
  User: string;
  WorkingDir: string;
  Env: string[];
  Cmd: string[];
}

/** Paths that must never be bound into a sandbox: the host's root, its system dirs, Docker's own state. */
const NEVER_BOUND = [
  '/',
  '/etc',
  '/proc',
  '/sys',
  '/dev',
  '/home',
  '/root',
  '/run',
  '/var/run',
  '/var/lib/docker',
];

/** The path with its links resolved when it exists (so /var/run/docker.sock is /run/docker.sock). */
function real(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    return path.resolve(p);
  }
}

/** Refuses a mount that would expose the Docker socket (or a directory holding it) or a host system directory. */
export function assertSafeMount(m: BindMount, dockerSocket: string): void {
  // both spellings of each path: as written and with links resolved (/var/run is a link to /run)
  const sources = [path.resolve(m.source), real(m.source)];
  const sockets = [path.resolve(dockerSocket), real(dockerSocket)];
  const holds = (dir: string, file: string): boolean =>
    file === dir || file.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
  const unsafe =
    sources.some((s) => NEVER_BOUND.includes(s) || sockets.some((sock) => holds(s, sock))) ||
    !path.isAbsolute(m.target);
  if (unsafe) {
    throw new CorralError(
      'docker_unsafe_mount',
      `refusing to mount ${m.source} at ${m.target} in a Docker sandbox`,
      'bind only corral-owned directories (never the Docker socket or a host system directory)',
    );
  }
}

/** The mounts of a sandbox: workspace read-write; runtime, gateway dir, CA bundle and extras read-only. */
export function sandboxMounts(dirs: {
  workspaceDir: string;
  runtimeDir: string;
  gatewayDir: string;
  caBundle?: string;
  extraReadOnly: string[];
}): BindMount[] {
  const mounts: BindMount[] = [
    { source: dirs.workspaceDir, target: SANDBOX_WORKSPACE, readOnly: false },
    { source: dirs.runtimeDir, target: SANDBOX_RUNTIME_DIR, readOnly: true },
    { source: dirs.gatewayDir, target: SANDBOX_GATEWAY_DIR, readOnly: true },
  ];
  if (dirs.caBundle !== undefined)
    mounts.push({ source: dirs.caBundle, target: SANDBOX_CA_BUNDLE, readOnly: true });
  for (const p of dirs.extraReadOnly) mounts.push({ source: p, target: p, readOnly: true });
  return mounts;
}

export function containerCreateBody(plan: ContainerPlan, dockerSocket: string): ContainerCreateBody {
  for (const m of plan.mounts) assertSafeMount(m, dockerSocket);
  const l = plan.limits;
  return {
    Image: plan.image,
    Cmd: IDLE_COMMAND,
    Hostname: 'corral',
    User: '0:0',
    WorkingDir: SANDBOX_WORKSPACE,
    Env: [],
    Labels: plan.labels,
    HostConfig: {
      // loopback only: the gateway socket is the one way out
      NetworkMode: 'none',
      // root of the remapped user namespace without any capability, as on every corral backend (the self-test
      // checks CapEff is 0): it still owns the files of its own layer, so it can install and edit them
      CapDrop: ['ALL'],
      CapAdd: [],
      // Docker's default seccomp profile applies because none is named here; it is never set to unconfined
      SecurityOpt: ['no-new-privileges'],
      Privileged: false,
      ReadonlyRootfs: false,
      Devices: [],
      Init: true,
      IpcMode: 'private',
      CgroupnsMode: 'private',
      Tmpfs: {
        '/tmp': `rw,nosuid,nodev,size=${TMP_BYTES}`,
        ...(plan.ephemeralHome === true
          ? { [SANDBOX_HOME]: `rw,nosuid,nodev,size=${TMP_BYTES},mode=700` }
          : {}),
      },
      Mounts: plan.mounts.map((m) => ({
        Type: 'bind',
        Source: m.source,
        Target: m.target,
        ReadOnly: m.readOnly,
        BindOptions: { Propagation: 'rprivate' },
      })),
      ...updatableLimits(l, plan.runtime),
      Ulimits: [
        { Name: 'nofile', Soft: l.maxOpenFiles, Hard: l.maxOpenFiles },
        { Name: 'fsize', Soft: l.maxFileBytes, Hard: l.maxFileBytes },
        { Name: 'core', Soft: 0, Hard: 0 },
        // gVisor's kernel enforces the process limit inside (the host pids cgroup is only a backstop there)
        ...(plan.runtime === 'runsc' ? [{ Name: 'nproc', Soft: l.maxProcesses, Hard: l.maxProcesses }] : []),
      ],
      RestartPolicy: { Name: 'no' },
      LogConfig: { Type: 'none', Config: {} },
      ...(plan.runtime === undefined ? {} : { Runtime: plan.runtime }),
    },
  };
}

/** The limits `POST /containers/{id}/update` can change on an existing container. */
export function updatableLimits(
  l: SandboxLimits,
  runtime: string | undefined,
): {
  Memory: number;
  MemorySwap: number;
  NanoCpus: number;
  PidsLimit: number;
} {
  // MemorySwap equal to Memory: no swap on top of the memory limit
  return {
    Memory: l.memoryBytes,
    MemorySwap: l.memoryBytes,
    NanoCpus: Math.round(l.cpus * 1e9),
    // under runsc the cgroup holds the sentry's own threads and, on ptrace, ~10 host tasks per process inside: a
    // sentry that cannot make a thread crashes, so the host limit is a backstop and RLIMIT_NPROC the agent's limit
    PidsLimit: runtime === 'runsc' ? gvisorPidsLimit(l.maxProcesses) : l.maxProcesses,
  };
}

/**
 * A hash of everything in the body an update cannot change (mounts, rlimits, runtime, security options),
 * the image excluded: a per-agent container whose hash differs is re-created with its layer carried over.
 */
export function fixedConfigHash(body: ContainerCreateBody): string {
  const { Memory: _m, MemorySwap: _s, NanoCpus: _c, PidsLimit: _p, ...fixed } = body.HostConfig;
  const { Image: _i, Labels: _l, ...config } = body;
  return crypto
    .createHash('sha256')
    .update(JSON.stringify({ ...config, HostConfig: fixed }))
    .digest('hex')
    .slice(0, 16);
}

export function execCreateBody(command: string[], env: Record<string, string>): ExecCreateBody {
  return {
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    Privileged: false,
    User: '0:0',
    WorkingDir: SANDBOX_WORKSPACE,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    Cmd: command,
  };
}
