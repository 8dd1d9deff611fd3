// The `runc` backend: the OCI bundle run by runc (crun on cgroup-v2-only hosts, where it is installed), in
// namespaces of the host kernel with a seccomp filter, no capabilities and the agent's own unprivileged uid.
import { installHint } from '../bwrap/probe.ts';
import type { AppliedLimits, Availability, SandboxBackend, SandboxLimits } from '../types.ts';
import type { OciBackendDeps } from './backend.ts';
import { createOciBackend } from './backend.ts';
import { bundlePaths } from './bundle.ts';
import type { CgroupMode } from './cgroup.ts';
import { detectCgroups } from './cgroup.ts';
import { runTool } from './container.ts';

export type OciRuntimeBinary = 'runc' | 'crun';

/**
 * crun where the host has cgroup v2 only and crun is installed (it is faster, and runc's v2 support came later);
 * runc everywhere else: crun 1.8 refuses hybrid hosts such as Debian's default with v1 controllers.
 */
export function chooseRuntimeBinary(mode: CgroupMode, crunInstalled: boolean): OciRuntimeBinary {
  return mode.kind === 'v2' && crunInstalled ? 'crun' : 'runc';
}

function mechanism(mode: CgroupMode): 'cgroup-v1' | 'cgroup-v2' | 'none' {
  return mode.kind === 'v1' ? 'cgroup-v1' : mode.kind === 'v2' ? 'cgroup-v2' : 'none';
}

export function runcApplied(mode: CgroupMode, diskQuota: boolean): AppliedLimits {
  const cg = mechanism(mode);
  return {
    memoryBytes: cg,
    cpus: cg,
    // the pids cgroup; RLIMIT_NPROC only where there is none
    maxProcesses: cg === 'none' ? 'rlimit' : cg,
    maxOpenFiles: 'rlimit',
    maxFileBytes: 'rlimit',
    // without a volume of its size, one file at a time (RLIMIT_FSIZE) is all that holds
    diskBytes: diskQuota ? 'quota' : 'rlimit',
  };
}

export function runcLimitNotes(mode: CgroupMode): Partial<Record<keyof SandboxLimits, string>> {
  const notes: Partial<Record<keyof SandboxLimits, string>> = {
    diskBytes:
      'without the agent volume (corral as root with mkfs.ext4 and loop devices), RLIMIT_FSIZE bounds one file at a time',
  };
  if (mode.kind === 'none') {
    const why = 'no cgroup hierarchy with a memory controller is mounted';
    notes.memoryBytes = why;
    notes.cpus = why;
    notes.maxProcesses = `${why}; RLIMIT_NPROC on the agent's uid instead (refusals are not reported)`;
  }
  return notes;
}

async function probeRunc(binary: OciRuntimeBinary, mode: CgroupMode): Promise<Availability> {
  const version = await runTool([binary, '--version']);
  if (!version.ok) return { ok: false, reason: `${binary} is not installed`, fix: installHint(binary) };
  if (mode.kind === 'none')
    return {
      ok: false,
      reason: 'no usable cgroup hierarchy with a memory controller, so limits cannot be enforced',
      fix: 'mount cgroups (v2, or v1 with the memory controller) and run: corral doctor',
    };
  for (const [tool, pkg] of [
    ['fuse-overlayfs', 'fuse-overlayfs'],
    ['fusermount3', 'fuse3'],
    ['unshare', 'util-linux'],
    ['ip', 'iproute2'],
  ] as const) {
    const r = await runTool([tool, tool === 'ip' ? '-V' : '--version']);
    if (!r.ok) return { ok: false, reason: `${tool} is missing`, fix: installHint(pkg) };
  }
  const first = version.out.split('\n')[0] ?? binary;
  return { ok: true, detail: `${first}, ${mechanism(mode)}` };
}

export function createRuncBackend(deps: OciBackendDeps): SandboxBackend {
  const mode = deps.cgroups ?? detectCgroups();
  let binary: Promise<OciRuntimeBinary> | undefined;
  const pick = (): Promise<OciRuntimeBinary> =>
    (binary ??= runTool(['crun', '--version']).then((r) => chooseRuntimeBinary(mode, r.ok)));
  return createOciBackend(
    'runc',
    {
      kind: 'runc',
      probe: async () => probeRunc(await pick(), mode),
      async commands(state, bundle, id) {
        const bin = await pick();
        return {
          // --keep: the stopped container keeps its cgroup until `delete`, so its OOM counter can be read
          run: [
            bin,
            '--root',
            state,
            'run',
            '--keep',
            '--pid-file',
            bundlePaths(bundle).pid,
            '--bundle',
            bundle,
            id,
          ],
          kill: [bin, '--root', state, 'kill', id, 'KILL'],
          delete: [bin, '--root', state, 'delete', '--force', id],
        };
      },
      async list(state) {
        const r = await runTool([await pick(), '--root', state, 'list', '--quiet']);
        return r.ok ? r.out.split('\n').filter((l) => l.trim() !== '') : [];
      },
      netns: true,
      stage: false,
      ownCgroup: false,
      pidsLimit: (n) => n,
      limitNotes: runcLimitNotes,
      applied: runcApplied,
    },
    { ...deps, cgroups: mode },
  );
}
