// Builds the OCI config.json of one sandbox from its spec. Pure: unit-tested, and the one place the boundary of
// the runc and gVisor backends is described.
import path from 'node:path';
import {
  SANDBOX_CA_BUNDLE,
  SANDBOX_GATEWAY_DIR,
  SANDBOX_RUNTIME_DIR,
  SANDBOX_WORKSPACE,
} from '../../protocol/sandbox-env.ts';
import { CorralError } from '../../util/errors.ts';
import { checkExtraBind, SCRATCH_TMPFS_BYTES } from '../bwrap/argv.ts';
import { imageInterpreter } from '../layer/interpreter.ts';
import type { ImageFile } from '../layer/interpreter.ts';
import type { SandboxSpec } from '../types.ts';
import type { OciConfig, OciMount, OciNamespace, OciResources, OciRlimit } from './spec.ts';
import { seccompProfile } from './seccomp.ts';

export const CPU_PERIOD_US = 100_000;
/** Under host memory pressure a sandbox's processes go before anything of the host's. */
export const SANDBOX_OOM_SCORE_ADJ = 500;
const DEV_TMPFS_BYTES = 64 * 1024;
const SHM_TMPFS_BYTES = 64 * 1024 * 1024;
const RUN_TMPFS_BYTES = 4 * 1024 * 1024;
/** Files corral generates per sandbox and binds read-only over the image's (see etcFiles). */
export const OCI_ETC_FILES = ['hosts', 'hostname', 'resolv.conf'];

/** procfs entries that describe the host rather than the sandbox: hidden (bound over with nothing) */
export const MASKED_PATHS = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/interrupts',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/sys/firmware',
];
/** procfs entries that configure the host kernel: visible, never writable */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export type OciRuntimeKind = 'runc' | 'gvisor';

export interface OciConfigOptions {
  runtime: OciRuntimeKind;
  /** the merged root filesystem (the agent's layer over the base image) */
  rootPath: string;
  /** runc: a network namespace corral made with only loopback, up; gVisor makes its own (--network=none) */
  netnsPath?: string;
  /** whether the memory cgroup can limit swap (v1 memsw, v2 memory.swap.max): then swap is limited to 0 */
  swapLimit: boolean;
  /** pids cgroup limit when it differs from limits.maxProcesses (gVisor's sentry needs room for its own threads) */
  pidsLimit?: number;
  /** set RLIMIT_NPROC to limits.maxProcesses: where no pids cgroup limits the sandbox, and in gVisor */
  nprocRlimit: boolean;
  /** Node's process.arch */
  arch: string;
  /** where the runtime finds the host paths; default: the spec's own (specSources) */
  sources?: OciSources;
}

const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkSandboxId(id: string): void {
  if (!SANDBOX_ID.test(id)) {
    throw new CorralError('sandbox_id', `sandbox id '${id}' is not usable as a container and cgroup name`);
  }
}

export function cgroupsPathOf(sandboxId: string): string {
  return `/corral/${sandboxId}`;
}

const bind = (source: string, destination: string, writable: boolean): OciMount => ({
  destination,
  type: 'bind',
  source,
  options: ['rbind', writable ? 'rw' : 'ro', 'nosuid', 'nodev'],
});

const tmpfs = (destination: string, bytes: number, mode: string, extra: string[] = []): OciMount => ({
  destination,
  type: 'tmpfs',
  source: 'tmpfs',
  options: ['nosuid', ...extra, `mode=${mode}`, `size=${bytes}`],
});

/** Host paths the sandbox mounts, as the runtime must open them (staged inside the bundle for gVisor). */
export interface OciSources {
  workspace: string;
  runtime: string;
  gateway: string;
  /** holds OCI_ETC_FILES */
  etcDir: string;
  caBundle?: string;
  extraReadOnly: { source: string; destination: string }[];
  /** the runtime's interpreter, read-only from the base image (src/sandbox/layer/interpreter.ts) */
  interpreter?: ImageFile;
  /** host folders (SandboxSpec.mounts), always staged in the bundle from their checked descriptors */
  hostMounts?: { source: string; destination: string; writable: boolean }[];
}

/** The spec's own host paths, as runc (which opens bind sources as root) can use them. */
export function specSources(spec: SandboxSpec): OciSources {
  return {
    workspace: spec.workspaceDir,
    runtime: spec.runtimeDir,
    gateway: spec.gatewayDir,
    etcDir: spec.etcDir,
    ...(spec.caBundle === undefined ? {} : { caBundle: spec.caBundle }),
    extraReadOnly: spec.extraReadOnly.map((p) => ({ source: p, destination: p })),
    ...optionalInterpreter(imageInterpreter(spec)),
  };
}

export const optionalInterpreter = (f: ImageFile | undefined): { interpreter?: ImageFile } =>
  f === undefined ? {} : { interpreter: f };

function mounts(src: OciSources): OciMount[] {
  const list: OciMount[] = [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    // An empty /dev: the runtime adds null, zero, full, random, urandom and tty (bound from the host's own, in a
    // user namespace), nothing else. No block device, no /dev/kvm, no /dev/fuse.
    tmpfs('/dev', DEV_TMPFS_BYTES, '755', ['strictatime']),
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
    },
    tmpfs('/dev/shm', SHM_TMPFS_BYTES, '1777', ['nodev', 'noexec']),
    tmpfs('/tmp', SCRATCH_TMPFS_BYTES, '1777', ['nodev']),
    tmpfs('/run', RUN_TMPFS_BYTES, '755', ['nodev']),
    bind(src.workspace, SANDBOX_WORKSPACE, true),
    bind(src.runtime, SANDBOX_RUNTIME_DIR, false),
    {
      ...bind(src.gateway, SANDBOX_GATEWAY_DIR, false),
      options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'],
    },
  ];
  for (const f of OCI_ETC_FILES) list.push(bind(path.join(src.etcDir, f), `/etc/${f}`, false));
  if (src.interpreter !== undefined) list.push(bind(src.interpreter.source, src.interpreter.target, false));
  if (src.caBundle !== undefined) list.push(bind(src.caBundle, SANDBOX_CA_BUNDLE, false));
  for (const { source, destination } of src.extraReadOnly) {
    checkExtraBind(destination);
    list.push(bind(source, destination, false));
  }
  for (const m of src.hostMounts ?? []) {
    if (!/^\/mnt\/[A-Za-z0-9._-]+$/.test(m.destination) || m.destination.endsWith('/..'))
      throw new CorralError('sandbox_bind_refused', `a host folder goes under /mnt, not at ${m.destination}`);
    list.push(bind(m.source, m.destination, m.writable));
  }
  return list;
}

function rlimits(spec: SandboxSpec, opts: OciConfigOptions): OciRlimit[] {
  const l = spec.limits;
  const same = (type: OciRlimit['type'], n: number): OciRlimit => ({ type, hard: n, soft: n });
  const list = [
    same('RLIMIT_NOFILE', l.maxOpenFiles),
    same('RLIMIT_FSIZE', l.maxFileBytes),
    same('RLIMIT_CORE', 0),
  ];
  // The kernel checks RLIMIT_NPROC before the pids cgroup, whose refusals are the ones corral can count and
  // report; so it is only the fallback where no pids cgroup holds. gVisor's sentry enforces it itself, inside.
  if (opts.nprocRlimit) list.push(same('RLIMIT_NPROC', l.maxProcesses));
  return list;
}

function resources(spec: SandboxSpec, opts: OciConfigOptions): OciResources {
  const l = spec.limits;
  return {
    // deny every device; runc then allows back only its defaults (null, zero, full, random, urandom, tty, pts)
    devices: [{ allow: false, access: 'rwm' }],
    // memory.swap is memory plus swap (the v1 memsw meaning, which runc translates for v2): equal means no swap
    memory: { limit: l.memoryBytes, ...(opts.swapLimit ? { swap: l.memoryBytes } : {}) },
    cpu: { quota: Math.max(1_000, Math.round(l.cpus * CPU_PERIOD_US)), period: CPU_PERIOD_US },
    pids: { limit: opts.pidsLimit ?? l.maxProcesses },
  };
}

function namespaces(opts: OciConfigOptions): OciNamespace[] {
  const net: OciNamespace =
    opts.netnsPath === undefined ? { type: 'network' } : { type: 'network', path: opts.netnsPath };
  return [
    { type: 'user' },
    { type: 'pid' },
    { type: 'ipc' },
    { type: 'uts' },
    { type: 'mount' },
    { type: 'cgroup' },
    net,
  ];
}

export function ociConfig(spec: SandboxSpec, opts: OciConfigOptions): OciConfig {
  checkSandboxId(spec.sandboxId);
  if (spec.hostIds === undefined) {
    // Fail closed: without a uid of its own, root inside would be mapped to whoever runs corral.
    throw new CorralError(
      'sandbox_root_without_uid',
      'an OCI sandbox needs an unprivileged host uid for the agent',
    );
  }
  if (opts.runtime === 'runc' && opts.netnsPath === undefined) {
    throw new CorralError('sandbox_netns', 'a runc sandbox needs a network namespace with only loopback');
  }
  const { uid, gid } = spec.hostIds;
  const none: string[] = [];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: spec.command,
      env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
      cwd: SANDBOX_WORKSPACE,
      // Root of its own user namespace with no capability at all: it owns its files (mapped to its host uid)
      // and needs nothing more; every capability would only widen the kernel surface it can reach.
      capabilities: { bounding: none, effective: none, inheritable: none, permitted: none, ambient: none },
      rlimits: rlimits(spec, opts),
      noNewPrivileges: true,
      oomScoreAdj: SANDBOX_OOM_SCORE_ADJ,
    },
    root: { path: opts.rootPath, readonly: false },
    hostname: 'corral',
    mounts: mounts(opts.sources ?? specSources(spec)),
    linux: {
      // one id inside (root), one unprivileged id outside: root inside is never root outside
      uidMappings: [{ containerID: 0, hostID: uid, size: 1 }],
      gidMappings: [{ containerID: 0, hostID: gid, size: 1 }],
      namespaces: namespaces(opts),
      cgroupsPath: cgroupsPathOf(spec.sandboxId),
      resources: resources(spec, opts),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      seccomp: seccompProfile({ clone3Enosys: opts.runtime === 'runc', arch: opts.arch }),
    },
  };
}

/** Small /etc files generated per sandbox: localhost only, and no DNS (names are resolved by the gateway). */
export function etcFiles(): Record<string, string> {
  return {
    hosts: '127.0.0.1 localhost corral\n::1 localhost\n',
    hostname: 'corral\n',
    'resolv.conf': '# no DNS inside a corral sandbox: programs reach the network through the gateway proxy\n',
  };
}
