// The part runc and gVisor share: bundle, config.json, cgroup, start, stop, reap. Each runtime is a Flavour.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import { startPhases } from '../../util/phases.ts';
import { ensureHostDir } from '../layer/dirs.ts';
import { ownerAlive } from '../layer/owner.ts';
import type { LayerPool } from '../layer/pool.ts';
import { createLayerPool } from '../layer/pool.ts';
import { reapLayers } from '../layer/reap.ts';
import { dropLayer } from '../layer/reset.ts';
import type {
  AppliedLimits,
  Availability,
  LimitBehaviour,
  Sandbox,
  SandboxBackend,
  SandboxLimits,
  SandboxSpec,
} from '../types.ts';
import { bundlePaths, prepareBundle, removeBundleDir } from './bundle.ts';
import type { CgroupMode } from './cgroup.ts';
import { createLimitedCgroup, detectCgroups, removeCgroup, swapLimitable } from './cgroup.ts';
import { cgroupsPathOf, checkSandboxId, CPU_PERIOD_US, ociConfig } from './config.ts';
import type { OciRuntimeKind } from './config.ts';
import type { RuntimeCommands } from './container.ts';
import { readPidFrom, runTool, startContainer } from './container.ts';

/** What differs between runc and runsc. */
export interface Flavour {
  kind: OciRuntimeKind;
  probe(): Promise<Availability>;
  commands(stateDir: string, bundleDir: string, id: string): Promise<RuntimeCommands>;
  /** container ids in the runtime's state directory */
  list(stateDir: string): Promise<string[]>;
  /** runc: a host-side netns with lo up; gVisor brings its own loopback (--network=none) */
  netns: boolean;
  /** gVisor: runsc opens mount sources as the agent's uid, so they are staged inside the bundle */
  stage: boolean;
  /** gVisor: corral creates and limits the cgroup, since runsc deletes its own before the counters can be read */
  ownCgroup: boolean;
  pidsLimit(maxProcesses: number): number;
  applied(mode: CgroupMode, diskQuota: boolean): AppliedLimits;
  /** for `corral doctor`: limits kept by a weaker mechanism, or that behave differently (see limitBehaviour) */
  limitNotes(mode: CgroupMode): Partial<Record<keyof SandboxLimits, string>>;
  limitBehaviour?: LimitBehaviour;
  ownDevices?: readonly string[];
}

export interface OciBackendDeps {
  log: Logger;
  /** corral's run directory ($CORRAL_HOME/run): agent layers are mounted under it */
  runDir: string;
  isRoot?: boolean;
  /** the agent layers of this process (default: a pool of this backend's own under runDir) */
  layers?: LayerPool;
  cgroups?: CgroupMode;
}

/** Parent of every OCI bundle: under /run, which the agent uid can traverse whatever $CORRAL_HOME's modes are. */
export const OCI_RUN_BASE = '/run/corral-oci';

/** State and bundles of one backend for one corral run directory (a fixed function of it, for the reaper). */
export function ociDirs(runDir: string, name: string): { base: string; state: string; bundles: string } {
  const key = crypto.createHash('sha256').update(path.resolve(runDir)).digest('hex').slice(0, 12);
  const base = path.join(OCI_RUN_BASE, key, name);
  return { base, state: path.join(base, 'state'), bundles: path.join(base, 'bundles') };
}

export function notAsRoot(name: string): { ok: false; reason: string; fix: string } {
  return {
    ok: false,
    reason: `the ${name} backend needs corral to run as root (to map each agent to a uid of its own)`,
    fix: 'run corral as root, or use --backend bwrap',
  };
}

function ensureDirs(dirs: { base: string; state: string; bundles: string }): void {
  ensureHostDir(OCI_RUN_BASE, 0o711);
  ensureHostDir(path.dirname(dirs.base), 0o711);
  ensureHostDir(dirs.base, 0o711);
  ensureHostDir(dirs.state, 0o700);
  ensureHostDir(dirs.bundles, 0o711);
}

export function createOciBackend(name: string, flavour: Flavour, deps: OciBackendDeps): SandboxBackend {
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;
  const layers = deps.layers ?? createLayerPool({ runDir: deps.runDir });
  const mode = deps.cgroups ?? detectCgroups();
  const dirs = ociDirs(deps.runDir, name);
  const log = deps.log.child({ backend: name });

  async function start(spec: SandboxSpec): Promise<Sandbox> {
    if (!isRoot) {
      const why = notAsRoot(name);
      throw new CorralError('backend_unavailable', why.reason, why.fix);
    }
    checkSandboxId(spec.sandboxId);
    const phases = startPhases();
    ensureDirs(dirs);
    const bundle = await prepareBundle(dirs.bundles, spec, {
      layers,
      netns: flavour.netns,
      stage: flavour.stage,
      phases,
    });
    const cgroupsPath = cgroupsPathOf(spec.sandboxId);
    const dropCgroup = (): void => {
      if (flavour.ownCgroup) removeCgroup(mode, cgroupsPath);
    };
    let commands: RuntimeCommands;
    try {
      commands = await flavour.commands(dirs.state, bundle.dir, spec.sandboxId);
      const pidsLimit = flavour.pidsLimit(spec.limits.maxProcesses);
      const config = ociConfig(spec, {
        runtime: flavour.kind,
        rootPath: bundle.rootPath,
        ...(bundle.netnsPath === undefined ? {} : { netnsPath: bundle.netnsPath }),
        sources: bundle.sources,
        swapLimit: swapLimitable(mode),
        pidsLimit,
        nprocRlimit: flavour.kind === 'gvisor' || mode.kind === 'none',
        arch: process.arch,
      });
      bundle.writeConfig(config);
      phases.mark('config');
      if (flavour.ownCgroup) {
        createLimitedCgroup(mode, cgroupsPath, {
          memoryBytes: spec.limits.memoryBytes,
          swapLimit: swapLimitable(mode),
          cpuQuotaUs: config.linux.resources.cpu?.quota ?? CPU_PERIOD_US,
          cpuPeriodUs: CPU_PERIOD_US,
          pids: pidsLimit,
        });
        phases.mark('cgroup');
      }
    } catch (err) {
      dropCgroup();
      await bundle.teardown();
      throw err;
    }
    const cmds = commands;
    log.debug('sandbox prepared', { sandbox: spec.sandboxId, phasesMs: phases.summary() });
    return startContainer({
      id: spec.sandboxId,
      commands: cmds,
      limits: spec.limits,
      applied: flavour.applied(mode, spec.diskQuota === true),
      cgroups: mode,
      cgroupsPath,
      readPid: () =>
        readPidFrom(bundlePaths(bundle.dir).pid) ??
        (flavour.kind === 'runc'
          ? readPidFrom(path.join(dirs.state, spec.sandboxId, 'state.json'))
          : undefined),
      ...(spec.diskQuota === true ? { diskQuota: { workspaceDir: spec.workspaceDir } } : {}),
      log,
      cleanup: async () => {
        const deleted = await runTool(cmds.delete);
        if (!deleted.ok) log.debug('runtime delete', { sandbox: spec.sandboxId, out: deleted.out });
        dropCgroup();
        await bundle.teardown();
      },
    });
  }

  /** Containers and bundles a killed corral left behind; a bundle whose corral still runs is left alone. */
  async function reap(runDir: string): Promise<string[]> {
    if (!isRoot) return [];
    const { state, bundles } = ociDirs(runDir, name);
    const ids = new Set<string>();
    if (fs.existsSync(state)) for (const id of await flavour.list(state)) ids.add(id);
    if (fs.existsSync(bundles))
      for (const e of fs.readdirSync(bundles, { withFileTypes: true })) if (e.isDirectory()) ids.add(e.name);
    const reaped: string[] = [];
    for (const id of ids) {
      const dir = path.join(bundles, id);
      if (ownerAlive(dir)) continue;
      try {
        checkSandboxId(id);
      } catch {
        log.warn('unexpected entry among the bundles, left alone', { entry: id });
        continue;
      }
      const commands = await flavour.commands(state, dir, id);
      await runTool(commands.delete);
      removeCgroup(mode, cgroupsPathOf(id));
      await removeBundleDir(dir);
      reaped.push(`${name} container ${id}`);
    }
    // the layers those containers ran on, once nothing holds them any more
    reaped.push(...(await reapLayers(path.join(runDir, 'layers'))));
    return reaped;
  }

  return {
    name,
    mounts: true, // host folders are staged from their checked descriptors (bundle.ts)
    probe: () => (isRoot ? flavour.probe() : Promise.resolve(notAsRoot(name))),
    start,
    reap,
    resetLayer: (_agent, layerDir) => dropLayer(layerDir),
    limitNotes: () => flavour.limitNotes(mode),
    limitMechanisms: (diskQuota) => Promise.resolve(flavour.applied(mode, diskQuota)),
    ...(flavour.limitBehaviour === undefined ? {} : { limitBehaviour: flavour.limitBehaviour }),
    ...(flavour.ownDevices === undefined ? {} : { ownDevices: flavour.ownDevices }),
  };
}
