// How the bwrap backend puts limits in force: the sandbox's cgroups (joined before bwrap runs), prlimit inside.
import type { SandboxCgroup } from '../cgroup/manager.ts';
import type { AppliedLimits, SandboxSpec } from '../types.ts';

/**
 * The first process writes its own pid into each cgroup.procs and only then execs bwrap, so everything the agent
 * ever runs starts inside the limits; any failed write ends it before bwrap runs. Paths travel as arguments.
 */
const JOIN_SCRIPT = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';

export function joinCgroupArgv(cg: SandboxCgroup | undefined, argv: string[]): string[] {
  if (cg === undefined) return argv;
  return ['/bin/sh', '-c', JOIN_SCRIPT, 'corral-cgroup-join', ...cg.procsFiles, '--', ...argv];
}

export function appliedLimits(cg: SandboxCgroup | undefined, spec: SandboxSpec): AppliedLimits {
  return {
    memoryBytes: cg?.applied.memoryBytes ?? 'none',
    cpus: cg?.applied.cpus ?? 'none',
    // RLIMIT_NPROC counts per uid, so it only bounds an agent that has a uid of its own
    maxProcesses: cg?.applied.maxProcesses ?? (spec.hostIds === undefined ? 'none' : 'rlimit'),
    maxOpenFiles: 'rlimit',
    maxFileBytes: 'rlimit',
    diskBytes: spec.diskQuota === true ? 'quota' : 'rlimit',
  };
}
