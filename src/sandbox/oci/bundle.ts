// One OCI bundle per sandbox: config.json, the agent's merged root on rootfs/, the generated /etc files, the CA
// bundle, (gVisor) the host paths it mounts, and (runc) its pinned network namespace. The directory is root's
// and the agent uid's group's (0710): the runtime reaches the root and the staged paths as the agent's uid,
// which cannot traverse a private $CORRAL_HOME; nobody else can. Torn down without walking into the agent's tree.
import fs from 'node:fs';
import path from 'node:path';
import { detachCopies } from '../../util/detach-copies.ts';
import { CorralError } from '../../util/errors.ts';
import { checkExtraBind } from '../bwrap/argv.ts';
import type { LayerLease, LayerPool } from '../layer/pool.ts';
import { removeOwner, writeOwner } from '../layer/owner.ts';
import type { SandboxSpec } from '../types.ts';
import { etcFiles, OCI_ETC_FILES } from './config.ts';
import type { OciSources } from './config.ts';
import { optionalInterpreter } from './config.ts';
import { imageInterpreter } from '../layer/interpreter.ts';
import { bindDescriptor, bindMount, unmountUnder } from './mounts.ts';
import { createLoopbackNetns } from './netns.ts';
import type { OciConfig } from './spec.ts';
import type { Phases } from '../../util/phases.ts';

export interface Bundle {
  dir: string;
  rootPath: string;
  netnsPath?: string;
  sources: OciSources;
  writeConfig(config: OciConfig): void;
  /** Unmounts and removes everything prepareBundle made; safe to call more than once. */
  teardown(): Promise<void>;
}

export interface BundleOptions {
  layers: LayerPool;
  /** runc: a host-side network namespace with only loopback, up */
  netns: boolean;
  /** gVisor: bind the workspace, runtime, gateway and extra paths into the bundle (runsc opens them as the agent) */
  stage: boolean;
  /** where the time goes (debug log) */
  phases?: Phases;
}

const STAGED = ['workspace', 'runtime', 'gateway'] as const;
/** the staged interpreter: a file, where every other entry of mnt/ is a directory */
const STAGED_INTERPRETER = 'interpreter';

/** Fixed names, so that a reaper finds every part after a crash. */
export function bundlePaths(dir: string) {
  return {
    config: path.join(dir, 'config.json'),
    rootfs: path.join(dir, 'rootfs'),
    etc: path.join(dir, 'etc'),
    ca: path.join(dir, 'ca-certificates.crt'),
    mnt: path.join(dir, 'mnt'),
    netns: path.join(dir, 'netns'),
    /** the runtime writes the container's host pid here (runc: its init; runsc: the sandbox process) */
    pid: path.join(dir, 'container.pid'),
  };
}

function rmdirIfThere(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'ENOENT')) throw err;
  }
}

/**
 * Removes a bundle entry by entry: mounts first, then only the names corral puts there. After the unmounts every
 * directory left is corral's own and empty; rmdir (never a recursive delete) fails rather than reach further.
 */
export async function removeBundleDir(dir: string): Promise<void> {
  if (!fs.existsSync(dir)) return removeOwner(dir);
  await unmountUnder(dir);
  const p = bundlePaths(dir);
  const files = [p.config, p.ca, p.netns, p.pid, path.join(p.mnt, STAGED_INTERPRETER)];
  for (const f of [...files, ...OCI_ETC_FILES.map((n) => path.join(p.etc, n))]) fs.rmSync(f, { force: true });
  if (fs.existsSync(p.mnt)) for (const name of fs.readdirSync(p.mnt)) rmdirIfThere(path.join(p.mnt, name));
  for (const d of [p.etc, p.mnt, p.rootfs, dir]) rmdirIfThere(d);
  removeOwner(dir);
}

/** Promise.all that passes a failure on only once every step has settled. */
async function allSettledFirst<T>(steps: Promise<T>[]): Promise<T[]> {
  await Promise.allSettled(steps);
  return Promise.all(steps);
}

async function stageSources(
  spec: SandboxSpec,
  mnt: string,
): Promise<Omit<OciSources, 'etcDir' | 'caBundle'>> {
  fs.mkdirSync(mnt, { mode: 0o755 });
  const stage = async (name: string, source: string): Promise<string> => {
    const target = path.join(mnt, name);
    fs.mkdirSync(target, { mode: 0o755 });
    await bindMount(source, target);
    return target;
  };
  const stageFile = async (name: string, source: string): Promise<string> => {
    const target = path.join(mnt, name);
    fs.writeFileSync(target, '', { mode: 0o644, flag: 'wx' });
    await bindMount(source, target);
    return target;
  };
  for (const p of spec.extraReadOnly) checkExtraBind(p);
  const interpreter = imageInterpreter(spec);
  // each is a `mount` process of its own: all at once
  const steps = [
    stage(STAGED[0], spec.workspaceDir),
    stage(STAGED[1], spec.runtimeDir),
    stage(STAGED[2], spec.gatewayDir),
    interpreter === undefined
      ? Promise.resolve(undefined)
      : stageFile(STAGED_INTERPRETER, interpreter.source).then((source) => ({
          source,
          target: interpreter.target,
        })),
    allSettledFirst(
      spec.extraReadOnly.map(async (p, i) => ({ source: await stage(`extra-${i}`, p), destination: p })),
    ),
  ] as const;
  // every one settled before a failure is passed on: the teardown must not race a mount still under way
  await Promise.allSettled(steps);
  const [workspace, runtime, gateway, stagedInterpreter, extraReadOnly] = await Promise.all(steps);
  return { workspace, runtime, gateway, extraReadOnly, ...optionalInterpreter(stagedInterpreter) };
}

/** Host folders, bound from the descriptors the host checked (never their paths), under the bundle's mnt/. */
async function stageHostMounts(
  spec: SandboxSpec,
  mnt: string,
): Promise<NonNullable<OciSources['hostMounts']>> {
  const out: NonNullable<OciSources['hostMounts']> = [];
  for (const [i, m] of (spec.mounts ?? []).entries()) {
    fs.mkdirSync(mnt, { recursive: true, mode: 0o755 });
    const target = path.join(mnt, `host-${i}`);
    fs.mkdirSync(target, { mode: 0o755 });
    await bindDescriptor(m.fd, target, m.readOnly);
    out.push({ source: target, destination: m.target, writable: !m.readOnly });
  }
  return out;
}

/** The generated /etc files and the CA bundle in the bundle, and the host paths as the runtime will open them. */
async function stageBundleSources(
  spec: SandboxSpec,
  p: ReturnType<typeof bundlePaths>,
  stage: boolean,
): Promise<OciSources> {
  fs.mkdirSync(p.etc, { mode: 0o755 });
  for (const [name, content] of Object.entries(etcFiles()))
    fs.writeFileSync(path.join(p.etc, name), content, { mode: 0o644, flag: 'wx' });
  if (spec.caBundle !== undefined) fs.copyFileSync(spec.caBundle, p.ca, fs.constants.COPYFILE_EXCL);
  const staged = stage
    ? await stageSources(spec, p.mnt)
    : {
        workspace: spec.workspaceDir,
        runtime: spec.runtimeDir,
        gateway: spec.gatewayDir,
        extraReadOnly: spec.extraReadOnly.map((e) => ({ source: e, destination: e })),
        ...optionalInterpreter(imageInterpreter(spec)),
      };
  const hostMounts = await stageHostMounts(spec, p.mnt);
  return {
    ...staged,
    etcDir: p.etc,
    ...(spec.caBundle === undefined ? {} : { caBundle: p.ca }),
    ...(hostMounts.length === 0 ? {} : { hostMounts }),
  };
}

export async function prepareBundle(
  bundlesDir: string,
  spec: SandboxSpec,
  opts: BundleOptions,
): Promise<Bundle> {
  const root = spec.root;
  if (root === undefined) {
    throw new CorralError(
      'sandbox_needs_image',
      'the OCI backends run an agent on a base image, and this sandbox has none',
      'run: corral image build',
    );
  }
  const ids = spec.hostIds;
  if (ids === undefined) {
    throw new CorralError(
      'sandbox_root_without_uid',
      'an OCI sandbox needs an unprivileged host uid for the agent',
    );
  }
  const dir = path.join(bundlesDir, spec.sandboxId);
  // a new directory every time: an existing one is another sandbox's, or a leftover for the reaper
  fs.mkdirSync(dir, { mode: 0o700 });
  writeOwner(dir);
  const p = bundlePaths(dir);
  let lease: LayerLease | undefined;
  let done: Promise<void> | undefined;
  const teardown = (): Promise<void> => {
    done ??= (async () => {
      // the bind of the merged root goes first, or the layer's fuse server could not exit on release; and so
      // do its copies in mount namespaces made meanwhile
      await unmountUnder(dir);
      detachCopies(p.rootfs);
      await lease?.release();
      await removeBundleDir(dir);
    })();
    return done;
  };
  try {
    fs.chownSync(dir, 0, ids.gid);
    fs.chmodSync(dir, 0o710);
    const timed = <T>(name: string, work: Promise<T>): Promise<T> => opts.phases?.time(name, work) ?? work;
    // the slow steps (a fuse server, then a bind of its root; an unshare; the staging mounts) at once
    const rooted = timed(
      'layer',
      opts.layers.acquire({ imageDir: root.imageDir, layerDir: root.layerDir, ids }),
    ).then(async (acquired) => {
      lease = acquired; // held before anything can throw, so that teardown gives it back
      fs.mkdirSync(p.rootfs, { mode: 0o755 });
      await timed('bindRoot', bindMount(acquired.path, p.rootfs));
    });
    const netns = opts.netns ? timed('netns', createLoopbackNetns(p.netns)) : Promise.resolve();
    const sources = timed('stage', stageBundleSources(spec, p, opts.stage));
    // every step settled before a failure is passed on: the teardown must not race a mount still under way
    await Promise.allSettled([rooted, netns, sources]);
    await rooted;
    await netns;
    const staged = await sources;
    opts.phases?.mark('prepare');
    return {
      dir,
      rootPath: p.rootfs,
      ...(opts.netns ? { netnsPath: p.netns } : {}),
      sources: staged,
      writeConfig: (config) =>
        fs.writeFileSync(p.config, JSON.stringify(config, null, 2) + '\n', { mode: 0o600, flag: 'wx' }),
      teardown,
    };
  } catch (err) {
    await teardown();
    throw err;
  }
}
