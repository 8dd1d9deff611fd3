// The SandboxBackend port: every isolation technology (bwrap, runc, gVisor, Docker, microVM) is one.
import type { Readable, Writable } from 'node:stream';

/** Hard limits, on by default; every backend applies all of them (cgroups where it can, rlimits otherwise). */
export interface SandboxLimits {
  /** memory of everything inside together (cgroup memory limit; no swap) */
  memoryBytes: number;
  /** CPU time share in cores, e.g. 1 = one full core (cgroup CPU quota) */
  cpus: number;
  /** processes and threads inside together (pids cgroup; RLIMIT_NPROC per agent uid as the fallback) */
  maxProcesses: number;
  maxOpenFiles: number;
  /** largest file a process may write */
  maxFileBytes: number;
  /** workspace plus writable layer on disk; writes beyond it fail with ENOSPC/EDQUOT */
  diskBytes: number;
}

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;

export const DEFAULT_LIMITS: SandboxLimits = {
  memoryBytes: 512 * MIB,
  cpus: 1,
  maxProcesses: 512,
  maxOpenFiles: 4096,
  maxFileBytes: 4 * GIB,
  diskBytes: 4 * GIB,
};

/** How each limit was put in force by a backend, for `corral doctor` and the self-test. */
export type LimitMechanism = 'cgroup-v1' | 'cgroup-v2' | 'rlimit' | 'runtime' | 'quota' | 'none';
export type AppliedLimits = Record<keyof SandboxLimits, LimitMechanism>;

/** A limit the sandbox ran into, reported so the user gets "memory limit 512 MiB reached" and not a bare SIGKILL. */
export interface LimitHit {
  limit: keyof SandboxLimits;
  /** one sentence for the conversation, e.g. "memory limit 512 MiB reached; the process was stopped" */
  message: string;
}

export interface LimitBehaviour {
  /** 'sandbox': the whole sandbox ends at the memory limit (gVisor's sentry is one host process); default 'process' */
  memoryHitEnds?: 'process' | 'sandbox';
  /** false: forks beyond the limit fail inside, but the host cannot count the refusals (no limit event) */
  processHitsReported?: boolean;
}

export interface HostIds {
  uid: number;
  gid: number;
}

/** The agent's own world: a shared read-only base image with a persistent per-agent writable layer on top. */
export interface SandboxRoot {
  /** root filesystem directory built by `corral image build`; never written */
  imageDir: string;
  /** stable id of that image (content key), e.g. 'corral-base-3f2a9c01d4e5'; Docker tags its import with it */
  imageId: string;
  /**
   * Host directory private to this agent that keeps its writable layer across sessions (installed packages, /etc,
   * /usr/local, its home). Each backend keeps its own format inside (e.g. `upper/` + `work/` for overlays).
   * Dropping the directory resets the agent's environment; no other agent ever sees it.
   */
  layerDir: string;
}

/** A host folder an agent may see (src/host/mounts.ts resolved and checked it; decide() allowed it). */
export interface SandboxMount {
  /**
   * An open O_DIRECTORY|O_NOFOLLOW descriptor of the checked directory, owned by the caller (closed by it once the
   * sandbox started): backends mount this descriptor, never the path, so what was checked is what is mounted.
   */
  fd: number;
  /** the resolved host path, for messages */
  hostPath: string;
  /** absolute path inside the sandbox: /mnt/NAME */
  target: string;
  readOnly: boolean;
}

export interface SandboxSpec {
  sandboxId: string;
  agent: string;
  /**
   * This sandbox's own host directory inside the run directory that reap() is later given (etcDir and gatewayDir
   * live in it). Backends scope what they create (cgroups, bundles) by that run directory, so reap() of one run
   * directory never touches another's sandboxes.
   */
  runDir?: string;
  /** host directory mounted read-write at /workspace */
  workspaceDir: string;
  /** host directory holding runtime.cjs, mounted read-only at /opt/corral */
  runtimeDir: string;
  /** host directory holding the gateway socket, mounted read-only at /run/corral */
  gatewayDir: string;
  /** host directory of small generated files (etc/passwd, etc/hosts) mounted read-only */
  etcDir: string;
  /**
   * The base image plus the agent's writable layer. Absent: the legacy layout (host /usr read-only, nothing
   * outside the workspace persists), which only the bwrap backend supports.
   */
  root?: SandboxRoot;
  /** the unprivileged host uid/gid the agent runs as when corral runs as root; undefined otherwise */
  hostIds: HostIds | undefined;
  /** the complete environment of the runtime; nothing else of the host's environment leaks in */
  env: Record<string, string>;
  limits: SandboxLimits;
  /**
   * True when workspaceDir (and root.layerDir) sit on a volume of limits.diskBytes that the host mounted, so the
   * kernel already enforces the disk limit; otherwise a backend falls back to RLIMIT_FSIZE (one file at a time).
   */
  diskQuota?: boolean;
  /** further host paths exposed read-only at the same place, e.g. a node installed under /opt (never '/', /etc, /home…) */
  extraReadOnly: string[];
  /** host file (system roots plus the gateway's CA) bound read-only over the sandbox's system CA bundle */
  caBundle?: string;
  /** the command run inside, e.g. ['node', '/opt/corral/runtime.cjs'] */
  command: string[];
  /** host folders to mount; a backend without `mounts: true` refuses a spec that has any (src/sandbox/registry.ts) */
  mounts?: SandboxMount[];
}

export interface SandboxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** set when the sandbox as a whole ended because it hit a limit (e.g. the memory cgroup killed its init) */
  limitHit?: LimitHit;
}

export interface Sandbox {
  readonly id: string;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly exited: Promise<SandboxExit>;
  /** Host pid of the process whose death ends the sandbox (bwrap, the runtime's init, the container's pid 1). */
  readonly pid?: number;
  /** How the limits were applied to this sandbox. */
  readonly appliedLimits?: AppliedLimits;
  /**
   * Limits hit since the last call (e.g. an OOM kill of one process inside, a pids-limit refusal), so the host
   * can tell the user which limit stopped a tool. Backends without a way to know return [].
   */
  limitEvents?(): Promise<LimitHit[]>;
  /** Kills everything inside and resolves once the sandbox is gone (processes, mounts, containers). */
  stop(): Promise<void>;
}

export type Availability = { ok: true; detail: string } | { ok: false; reason: string; fix: string };

export interface SandboxBackend {
  readonly name: string;
  /** Cheap check that the backend can run here; says how to fix it when not. */
  probe(): Promise<Availability>;
  start(spec: SandboxSpec): Promise<Sandbox>;
  /**
   * Removes whatever a killed corral left behind for this backend under `runDir` (mounts, containers, cgroups,
   * processes). Called once when the host starts; must be safe to call when there is nothing to clean.
   */
  reap?(runDir: string): Promise<string[]>;
  /** Lets go of what the backend keeps between sandboxes (agent layers kept mounted while idle). */
  close?(): Promise<void>;
  /** Agent layers this backend has mounted itself (not through the host's shared pool), for /metrics. */
  layerStats?(): { inUse: number; idle: number };
  /**
   * Saves the part of an agent's environment kept outside layerDir (Docker: its container) as `tag`, beside the
   * host's own snapshot of the layer directory and workspace; refused while a sandbox of the agent runs.
   */
  snapshotLayer?(agent: string, layerDir: string, tag: string): Promise<void>;
  /** Brings back what snapshotLayer saved as `tag`: the agent's next sandbox starts from it. Refused while one runs. */
  restoreLayer?(agent: string, layerDir: string, tag: string): Promise<void>;
  /** Drops an agent's writable layer (and any backend-side state such as a per-agent container). */
  resetLayer?(agent: string, layerDir: string): Promise<void>;
  /**
   * For `agent rm --purge`: what resetLayer drops and every snapshot snapshotLayer saved (Docker: the committed
   * images). Refused while a sandbox of the agent runs.
   */
  purgeLayer?(agent: string, layerDir: string): Promise<void>;
  /**
   * The host uid/gid that root inside this backend's sandboxes is, when the backend decides it rather than corral
   * (Docker's userns-remap range: one for all containers). The host gives the workspace and the gateway socket to
   * these ids instead of the per-agent ones. Absent: the per-agent ids (`SandboxSpec.hostIds`).
   */
  hostIdsFor?(perAgent: HostIds | undefined): Promise<HostIds | undefined>;
  /** For `corral doctor`: why a limit is kept by a weaker mechanism than this backend's best (or not at all). */
  limitNotes?(): Partial<Record<keyof SandboxLimits, string>>;
  /**
   * For `corral doctor`: how each limit would be put in force for a sandbox started now, without starting one.
   * `diskQuota`: the agent's data sits on a volume of its disk limit (corral as root with mkfs.ext4 and loops).
   */
  limitMechanisms?(diskQuota: boolean): Promise<AppliedLimits>;
  /**
   * Where hitting a limit plays out differently from the default (the offending process alone is killed at the
   * memory limit, and refused forks are reported as a limit event). Each difference must also be explained by
   * limitNotes(); the limits contract checks the behaviour declared here instead of the default.
   */
  readonly limitBehaviour?: LimitBehaviour;
  /**
   * Each sandbox runs its own kernel (a virtual machine): the hypervisor is the boundary, and inside it the
   * guest's init gives the agent the container backends' shape (no capabilities, minimal /dev). The self-test
   * also checks that the kernel is not the host's.
   */
  readonly ownKernel?: boolean;
  /** Supports SandboxSpec.mounts (by descriptor). Others are made to refuse such a spec rather than ignore it. */
  readonly mounts?: boolean;
  /**
   * Device nodes the backend's own kernel emulates, with no host device behind them (gVisor: fuse, net/tun). The
   * start self-test allows these beside the minimal set (null, zero, full, random, urandom, tty, pts).
   */
  readonly ownDevices?: readonly string[];
  /** Extra time a sandbox may need to come up (a VM booting, slowest under emulation); added to start timeouts. */
  bootAllowanceMs?(): number;
}
