// The SandboxBackend port: every isolation technology (bwrap today; runc, gVisor, Docker, microVM later) is one.
import type { Readable, Writable } from 'node:stream';

export interface SandboxLimits {
  /** processes the agent's uid may own (enforced per agent only where it has its own host uid) */
  maxProcesses: number;
  maxOpenFiles: number;
  /** largest file a process may write */
  maxFileBytes: number;
}

export const DEFAULT_LIMITS: SandboxLimits = {
  maxProcesses: 512,
  maxOpenFiles: 4096,
  maxFileBytes: 4 * 1024 * 1024 * 1024,
};

export interface HostIds {
  uid: number;
  gid: number;
}

export interface SandboxSpec {
  sandboxId: string;
  agent: string;
  /** host directory mounted read-write at /workspace */
  workspaceDir: string;
  /** host directory holding runtime.mjs, mounted read-only at /opt/corral */
  runtimeDir: string;
  /** host directory holding the gateway socket, mounted read-only at /run/corral */
  gatewayDir: string;
  /** host directory of small generated files (etc/passwd, etc/hosts) mounted read-only */
  etcDir: string;
  /** the unprivileged host uid/gid the agent runs as when corral runs as root; undefined otherwise */
  hostIds: HostIds | undefined;
  /** the complete environment of the runtime; nothing else of the host's environment leaks in */
  env: Record<string, string>;
  limits: SandboxLimits;
  /** further host paths exposed read-only at the same place, e.g. a node installed under /opt (never '/', /etc, /home…) */
  extraReadOnly: string[];
  /** host file (system roots plus the gateway's CA) bound read-only over the sandbox's system CA bundle */
  caBundle?: string;
  /** the command run inside, e.g. ['node', '/opt/corral/runtime.mjs'] */
  command: string[];
}

export interface SandboxExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Sandbox {
  readonly id: string;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  readonly exited: Promise<SandboxExit>;
  /** Kills everything inside and resolves once the sandbox is gone. */
  stop(): Promise<void>;
}

export type Availability = { ok: true; detail: string } | { ok: false; reason: string; fix: string };

export interface SandboxBackend {
  readonly name: string;
  /** Cheap check that the backend can run here; says how to fix it when not. */
  probe(): Promise<Availability>;
  start(spec: SandboxSpec): Promise<Sandbox>;
}
