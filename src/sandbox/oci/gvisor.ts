// The `gvisor` backend: the same OCI bundle run by runsc, so the agent's system calls reach gVisor's user-space
// kernel (the sentry) instead of the host's. Platform: systrap where the build has it, else ptrace; KVM only
// when configured, since it hangs in nested VMs.
import { installHint } from '../bwrap/probe.ts';
import type { AppliedLimits, Availability, SandboxBackend, SandboxLimits } from '../types.ts';
import type { OciBackendDeps } from './backend.ts';
import { createOciBackend } from './backend.ts';
import { bundlePaths } from './bundle.ts';
import type { CgroupMode } from './cgroup.ts';
import { detectCgroups } from './cgroup.ts';
import { runTool } from './container.ts';

export type GvisorPlatform = 'systrap' | 'ptrace' | 'kvm';

/**
 * The host pids cgroup holds the sentry's own threads (about 80) and, on ptrace, stub processes and threads for
 * every task inside: measured about 10 host tasks per process inside. It is only a backstop (reaching it crashes
 * the sentry); the agent's limit is RLIMIT_NPROC, which the sentry enforces inside with an ordinary EAGAIN.
 */
export function gvisorPidsLimit(maxProcesses: number): number {
  return 16 * maxProcesses + 512;
}

/** Builds before 2023 refuse stat with AT_NO_AUTOMOUNT (EINVAL), which Debian 12's coreutils uses. */
const STATX_FIXED_DATE = 20230301;

export function parsePlatforms(helpText: string): GvisorPlatform[] {
  const known: GvisorPlatform[] = ['systrap', 'ptrace', 'kvm'];
  return known.filter((p) => helpText.split(/\s+/).includes(p));
}

export function choosePlatform(
  available: GvisorPlatform[],
  configured: GvisorPlatform | undefined,
): GvisorPlatform | undefined {
  if (configured !== undefined) return available.includes(configured) ? configured : undefined;
  // never KVM unasked: /dev/kvm can exist in a nested VM whose guests hang
  if (available.includes('systrap')) return 'systrap';
  return available.includes('ptrace') ? 'ptrace' : undefined;
}

/** The release date in `runsc --version` (e.g. "runsc version 0.0~20221219.0" or "release-20240212.0"). */
export function runscReleaseDate(versionText: string): number | undefined {
  const m = /(?:~|release-|version )(20\d{6})/.exec(versionText);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export function gvisorApplied(mode: CgroupMode, diskQuota: boolean): AppliedLimits {
  const cg = mode.kind === 'v1' ? 'cgroup-v1' : mode.kind === 'v2' ? 'cgroup-v2' : 'none';
  return {
    // the host cgroup holds the sentry and everything inside: reaching the limit ends the whole sandbox
    memoryBytes: cg,
    cpus: cg,
    // the sentry enforces the rlimits itself
    maxProcesses: 'runtime',
    maxOpenFiles: 'runtime',
    maxFileBytes: 'runtime',
    diskBytes: diskQuota ? 'quota' : 'runtime',
  };
}

/** Devices gVisor's kernel implements itself: no host device is behind them. */
export const GVISOR_DEVICES = ['fuse', 'net/tun'] as const;

/** What differs on gVisor, for `corral doctor` and the limits contract (which checks exactly this behaviour). */
export function gvisorLimitNotes(mode: CgroupMode): Partial<Record<keyof SandboxLimits, string>> {
  const cg = mode.kind === 'v1' ? 'cgroup v1' : mode.kind === 'v2' ? 'cgroup v2' : 'no cgroup';
  return {
    memoryBytes: `${cg} on the whole gVisor sandbox (its kernel, the sentry, is one host process and counts ~40 MiB): reaching the limit ends the sandbox, not one process`,
    maxProcesses:
      "enforced inside gVisor's kernel (RLIMIT_NPROC, fork fails with EAGAIN); the host cannot count the refusals, so they are not reported as a limit hit",
    diskBytes:
      'without the agent volume (corral as root with mkfs.ext4 and loop devices), the file size limit inside gVisor bounds one file at a time',
  };
}

export interface GvisorDeps extends OciBackendDeps {
  /** corral.yaml `gvisor.platform`; unset: systrap or ptrace, whichever this runsc has */
  platform?: GvisorPlatform;
}

interface Setup {
  platform: GvisorPlatform | undefined;
  version: string;
  available: GvisorPlatform[];
}

export function createGvisorBackend(deps: GvisorDeps): SandboxBackend {
  const mode = deps.cgroups ?? detectCgroups();
  let setup: Promise<Setup> | undefined;
  const detect = (): Promise<Setup> =>
    (setup ??= (async () => {
      const version = await runTool(['runsc', '--version']);
      const help = await runTool(['runsc', 'help', 'platforms']);
      const available = parsePlatforms(help.out);
      return {
        platform: choosePlatform(available, deps.platform),
        version: version.ok ? (version.out.split('\n')[0] ?? 'runsc') : '',
        available,
      };
    })());
  const globals = async (state: string): Promise<string[]> => {
    const { platform } = await detect();
    return [
      'runsc',
      '--root',
      state,
      `--platform=${platform ?? 'ptrace'}`,
      // loopback only, inside the sentry's own network stack
      '--network=none',
      // the gateway socket is a host Unix socket bound in at /run/corral; the gofer may connect to it, not create
      '--host-uds=open',
      // the same seccomp filter as runc, applied by the sentry to the agent's calls
      '--oci-seccomp',
      // writes go through to the agent's layer and workspace, never to a throwaway in-memory overlay
      '--overlay2=none',
    ];
  };
  return createOciBackend(
    'gvisor',
    {
      kind: 'gvisor',
      probe: () => probeGvisor(detect, mode, deps.platform),
      async commands(state, bundle, id) {
        const g = await globals(state);
        return {
          run: [...g, 'run', '--pid-file', bundlePaths(bundle).pid, '--bundle', bundle, id],
          kill: [...g, 'kill', id, 'KILL'],
          delete: [...g, 'delete', '--force', id],
        };
      },
      async list(state) {
        const r = await runTool([...(await globals(state)), 'list', '--quiet']);
        return r.ok ? r.out.split('\n').filter((l) => l.trim() !== '') : [];
      },
      netns: false,
      stage: true,
      ownCgroup: true,
      pidsLimit: gvisorPidsLimit,
      limitNotes: gvisorLimitNotes,
      limitBehaviour: { memoryHitEnds: 'sandbox', processHitsReported: false },
      ownDevices: GVISOR_DEVICES,
      applied: gvisorApplied,
    },
    { ...deps, cgroups: mode },
  );
}

async function probeGvisor(
  detect: () => Promise<Setup>,
  mode: CgroupMode,
  configured: GvisorPlatform | undefined,
): Promise<Availability> {
  const s = await detect();
  if (s.version === '')
    return { ok: false, reason: 'runsc (gVisor) is not installed', fix: installHint('runsc') };
  if (s.platform === undefined)
    return {
      ok: false,
      reason: `runsc has no usable platform${configured ? ` '${configured}'` : ''} (it offers: ${s.available.join(', ') || 'none'})`,
      fix: 'set gvisor.platform in corral.yaml to one runsc offers (runsc help platforms), or install a newer gVisor',
    };
  if (mode.kind === 'none')
    return {
      ok: false,
      reason: 'no usable cgroup hierarchy with a memory controller, so limits cannot be enforced',
      fix: 'mount cgroups (v2, or v1 with the memory controller) and run: corral doctor',
    };
  for (const [tool, pkg] of [
    ['fuse-overlayfs', 'fuse-overlayfs'],
    ['fusermount3', 'fuse3'],
  ] as const) {
    if (!(await runTool([tool, '--version'])).ok)
      return { ok: false, reason: `${tool} is missing`, fix: installHint(pkg) };
  }
  const date = runscReleaseDate(s.version);
  const note =
    date !== undefined && date < STATX_FIXED_DATE
      ? '; this release fails `ls -l` and `stat` inside (EINVAL on AT_NO_AUTOMOUNT), newer gVisor releases do not'
      : '';
  return { ok: true, detail: `${s.version}, platform ${s.platform}${note}` };
}
