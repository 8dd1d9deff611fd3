// The cgroup side of a backend: what this host supports (for doctor and appliedLimits), a cgroup per sandbox,
// and reaping what a killed corral left behind. Backends that manage cgroups themselves (runc, Docker) may still
// use readLimitCounters to tell an OOM kill from any other death.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { limitHit } from '../limit-hit.ts';
import type { LimitHit, LimitMechanism, SandboxLimits } from '../types.ts';
import type { Controller, Hierarchy, ProcSources } from './detect.ts';
import { findHierarchies, LIMIT_CONTROLLERS, readProcSources } from './detect.ts';
import { ensureParent } from './parent.ts';
import type { CgroupDirs, CgroupLimit } from './sandbox-cgroup.ts';
import {
  appliedBy,
  createSandboxCgroup,
  killAll,
  procsOf,
  readLimitCounters,
  removeDirs,
} from './sandbox-cgroup.ts';

export interface CgroupSupport {
  parents: CgroupDirs[];
  /** why a limit has no cgroup here (absent when it has one) */
  missing: Partial<Record<CgroupLimit, string>>;
}

export interface SandboxCgroup {
  dirs: CgroupDirs[];
  /** cgroup.procs files the sandbox's first process joins before it runs anything of the agent's */
  procsFiles: string[];
  /** cgroup directories to show read-only inside, so programs (and the self-test) can read their limits */
  views: { inside: string; dir: string }[];
  applied: Partial<Record<CgroupLimit, LimitMechanism>>;
  /** limits hit since the last call: OOM kills, refused forks */
  events(): LimitHit[];
  /** kills everything left inside, then removes the cgroups */
  destroy(): Promise<void>;
}

const CONTROLLER_LIMIT: Record<string, CgroupLimit> = {
  memory: 'memoryBytes',
  cpu: 'cpus',
  pids: 'maxProcesses',
};

/** Sandboxes of one run directory share a scope, so reap(runDir) ends only its own. */
export function cgroupScope(runDir: string): string {
  return crypto.createHash('sha256').update(path.resolve(runDir)).digest('hex').slice(0, 12);
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;

function viewOf(d: CgroupDirs, hierarchies: Hierarchy[]): { inside: string; dir: string } {
  if (d.version === 2) return { inside: '/sys/fs/cgroup', dir: d.dir };
  const h = hierarchies.find((x) => x.version === 1 && d.dir.startsWith(x.mountPoint + '/'));
  return { inside: `/sys/fs/cgroup/${path.basename(h?.mountPoint ?? d.controllers.join(','))}`, dir: d.dir };
}

export function createCgroups(opts: { sources?: () => ProcSources } = {}) {
  let cached: { support: CgroupSupport; hierarchies: Hierarchy[] } | undefined;
  const detect = (): { support: CgroupSupport; hierarchies: Hierarchy[] } => {
    if (cached) return cached;
    let hierarchies: Hierarchy[] = [];
    const missing: Partial<Record<CgroupLimit, string>> = {};
    try {
      hierarchies = findHierarchies((opts.sources ?? readProcSources)());
    } catch (err) {
      for (const c of LIMIT_CONTROLLERS) missing[CONTROLLER_LIMIT[c] ?? 'memoryBytes'] = String(err);
    }
    const parents: CgroupDirs[] = [];
    for (const h of hierarchies) {
      const p = ensureParent(h);
      if (p.ok) parents.push({ version: h.version, dir: p.dir, controllers: p.controllers });
      else for (const c of h.controllers) if (CONTROLLER_LIMIT[c]) missing[CONTROLLER_LIMIT[c]] = p.reason;
    }
    const have = new Set<Controller>(parents.flatMap((p) => p.controllers));
    for (const c of LIMIT_CONTROLLERS) {
      const limit = CONTROLLER_LIMIT[c];
      if (limit !== undefined && !have.has(c)) missing[limit] ??= `no ${c} cgroup controller is mounted here`;
    }
    cached = { support: { parents, missing }, hierarchies };
    return cached;
  };

  return {
    support: (): CgroupSupport => detect().support,

    /** undefined when this host has no usable cgroup controller at all */
    create(scope: string, sandboxId: string, limits: SandboxLimits): SandboxCgroup | undefined {
      const { support, hierarchies } = detect();
      if (support.parents.length === 0) return undefined;
      if (!SAFE_ID.test(sandboxId)) throw new Error(`sandbox id '${sandboxId}' cannot name a cgroup`);
      const dirs = createSandboxCgroup(support.parents, `${scope}-${sandboxId}`, limits);
      let seen = readLimitCounters(dirs);
      return {
        dirs,
        procsFiles: dirs.map((d) => path.join(d.dir, 'cgroup.procs')),
        views: dirs
          .filter((d) => d.controllers.some((c) => c !== 'freezer'))
          .map((d) => viewOf(d, hierarchies)),
        applied: appliedBy(dirs),
        events() {
          const now = readLimitCounters(dirs);
          const hits: LimitHit[] = [];
          if (now.oomKills > seen.oomKills) hits.push(limitHit('memoryBytes', limits));
          if (now.forkRefusals > seen.forkRefusals) hits.push(limitHit('maxProcesses', limits));
          seen = now;
          return hits;
        },
        async destroy() {
          await killAll(dirs);
          await removeDirs(dirs);
        },
      };
    },

    /** Kills and removes every cgroup of this scope (a killed host's sandboxes); returns what it removed. */
    async reap(scope: string): Promise<string[]> {
      const byName = new Map<string, CgroupDirs[]>();
      for (const p of detect().support.parents) {
        let names: string[] = [];
        try {
          names = fs.readdirSync(p.dir).filter((n) => n.startsWith(`${scope}-`));
        } catch {
          // parent gone: nothing of ours under it
        }
        for (const n of names) {
          const d = { ...p, dir: path.join(p.dir, n) };
          if (fs.lstatSync(d.dir).isDirectory()) byName.set(n, [...(byName.get(n) ?? []), d]);
        }
      }
      for (const dirs of byName.values()) {
        await killAll(dirs); // all hierarchies at once, so a v1 freezer can hold the processes still
        await removeDirs(dirs);
      }
      return [...byName.values()].flat().map((d) => d.dir);
    },

    /** processes in the sandbox's cgroup right now (for tests and the self-test) */
    procs: (c: SandboxCgroup): number[] => (c.dirs[0] ? procsOf(c.dirs[0].dir) : []),
  };
}

export type Cgroups = ReturnType<typeof createCgroups>;
