// The default backend: bubblewrap namespaces, no daemon. Each sandbox is one bwrap process tree.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { Logger } from '../../util/log.ts';
import type { LayerLease, LayerPool } from '../layer/pool.ts';
import { layerAvailability } from '../layer/available.ts';
import { createLayerPool } from '../layer/pool.ts';
import { reapLayers } from '../layer/reap.ts';
import { dropLayer } from '../layer/reset.ts';
import type { HostIds, Sandbox, SandboxBackend, SandboxExit, SandboxSpec } from '../types.ts';
import { bwrapArgv, etcFiles } from './argv.ts';
import { probeBwrap } from './probe.ts';
import { bwrapRootArgv } from './root-argv.ts';

const STOP_GRACE_MS = 2_000;

function writeEtc(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(etcFiles())) {
    fs.writeFileSync(path.join(dir, name), content, { mode: 0o644 });
  }
}

export interface BwrapDeps {
  log: Logger;
  isRoot?: boolean;
  /** corral's run directory: agent layers are mounted under it (needed for specs with a root) */
  runDir?: string;
}

export function createBwrapBackend(deps: BwrapDeps): SandboxBackend {
  const isRoot = deps.isRoot ?? process.getuid?.() === 0;
  const layers = deps.runDir === undefined ? undefined : createLayerPool({ runDir: deps.runDir });
  const backend: SandboxBackend = {
    name: 'bwrap',
    probe: () => Promise.resolve(probeBwrap(isRoot)),
    start: (spec) => startBwrap(spec, isRoot, deps.log, layers),
    reap: (runDir) => reapLayers(runDir),
  };
  // Keeping layers is what makes the host run agents on the base image (host/base-image.ts); where layers
  // cannot be mounted (an ordinary user without access to /dev/fuse) agents keep the legacy layout.
  if (layers !== undefined && layerAvailability(isRoot).ok)
    backend.resetLayer = (_agent, layerDir) => dropLayer(layerDir);
  return backend;
}

/** Root inside maps to the agent's uid (corral as root) or to the caller: the layer shows its files as theirs. */
function layerIds(spec: SandboxSpec): HostIds {
  return spec.hostIds ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

async function mountRoot(spec: SandboxSpec, layers: LayerPool | undefined): Promise<LayerLease | undefined> {
  if (spec.root === undefined) return undefined;
  if (layers === undefined) {
    throw new CorralError(
      'sandbox_no_run_dir',
      'the bwrap backend was built without a run directory, so it cannot mount an agent layer',
    );
  }
  return layers.acquire({ imageDir: spec.root.imageDir, layerDir: spec.root.layerDir, ids: layerIds(spec) });
}

async function startBwrap(
  spec: SandboxSpec,
  isRoot: boolean,
  log: Logger,
  layers: LayerPool | undefined,
): Promise<Sandbox> {
  if (isRoot && spec.hostIds === undefined) {
    // Fail closed: as root without a uid of its own the agent would be host root.
    throw new CorralError(
      'sandbox_root_without_uid',
      'refusing to start a sandbox as host root without an agent uid',
    );
  }
  writeEtc(spec.etcDir);
  const lease = await mountRoot(spec, layers);
  const exists = (p: string): boolean => fs.existsSync(p);
  const [cmd, ...args] =
    lease === undefined ? bwrapArgv(spec, { exists }) : bwrapRootArgv(spec, lease.path, { exists });
  if (cmd === undefined) throw new CorralError('sandbox_argv', 'empty sandbox command');
  const child = spawn(cmd, args, { env: spec.env, stdio: ['pipe', 'pipe', 'pipe'] });
  log.debug('sandbox started', { sandbox: spec.sandboxId, pid: child.pid, argv: [cmd, ...args].join(' ') });
  // Resolves once the process tree is gone and the layer is given back, so the next sandbox (or a reset)
  // finds it free.
  const exited = new Promise<SandboxExit>((resolve) => {
    const done = (exit: SandboxExit): void => {
      const release = lease?.release() ?? Promise.resolve();
      release
        .catch((err: unknown) =>
          log.warn('layer unmount failed', { sandbox: spec.sandboxId, err: String(err) }),
        )
        .finally(() => resolve(exit));
    };
    child.once('error', () => done({ code: null, signal: null }));
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
        child.kill('SIGTERM');
        await exited;
        clearTimeout(timer);
      }
      await exited;
    })();
    return stopping;
  };
  return { id: spec.sandboxId, stdin: child.stdin, stdout: child.stdout, stderr: child.stderr, exited, stop };
}
