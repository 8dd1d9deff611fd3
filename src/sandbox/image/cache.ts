// The image cache: `<cacheDir>/<imageId>/{rootfs,manifest.json}`, built once per set of inputs and shared.
import fs from 'node:fs';
import path from 'node:path';
import { CorralError } from '../../util/errors.ts';
import type { BuildRequest } from './build.ts';
import { BUILD_TIMEOUT_MS, buildImage } from './build.ts';
import { imageIdOf, planInputs } from './inputs.ts';
import { acquireLock } from './lock.ts';
import { buildMode, chooseTool } from './tools.ts';
import type { BaseImage, ImageInputs, ImageProgress } from './types.ts';
import { IMAGE_ID_RE, imageManifestSchema } from './types.ts';

const BUILD_PREFIX = '.build-';

export interface ImageOptions {
  cacheDir: string;
  onProgress?: (e: ImageProgress) => void;
  /** the node copied into the image; default: the one running corral */
  nodePath?: string;
  /** build again even when an image with these inputs exists (it is replaced) */
  force?: boolean;
  signal?: AbortSignal;
  /** what fills the build directory; tests of the cache and lock pass a fast stand-in */
  build?: (req: BuildRequest) => Promise<unknown>;
}

/** Where images live: $CORRAL_IMAGE_CACHE when set, else `$CORRAL_HOME/images`. */
export function imageCacheDir(imagesDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const raw = env['CORRAL_IMAGE_CACHE'];
  return path.resolve(raw !== undefined && raw !== '' ? raw : imagesDir);
}

/**
 * The inputs and id this host and user would build (Node binary, tool, root or user namespace, package list,
 * script version). An image built by an ordinary user (files owned by that user) is a different image.
 */
export function currentInputs(nodePath: string = process.execPath): { id: string; inputs: ImageInputs } {
  const mode = process.getuid?.() === 0 ? 'root' : 'unshare';
  const inputs = planInputs({ nodePath, tool: chooseTool() ?? 'mmdebstrap', mode });
  return { id: imageIdOf(inputs), inputs };
}

/** Reads one cached image; undefined when it is missing or not a complete, valid image. */
export function readImage(cacheDir: string, id: string): BaseImage | undefined {
  if (!IMAGE_ID_RE.test(id)) return undefined;
  const dir = path.join(cacheDir, id);
  try {
    const manifest = imageManifestSchema.parse(
      JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')),
    );
    const rootfs = path.join(dir, 'rootfs');
    if (manifest.id !== id || !fs.lstatSync(rootfs).isDirectory()) return undefined;
    return { id, rootfs, manifest };
  } catch {
    return undefined;
  }
}

/** The image for the current inputs, if it was built; never builds. */
export function findBaseImage(cacheDir: string, nodePath?: string): BaseImage | undefined {
  return readImage(cacheDir, currentInputs(nodePath).id);
}

/** Every complete image in the cache, newest first. */
export function listImages(cacheDir: string): BaseImage[] {
  let names: string[];
  try {
    names = fs.readdirSync(cacheDir);
  } catch {
    return [];
  }
  return names
    .map((n) => readImage(cacheDir, n))
    .filter((i): i is BaseImage => i !== undefined)
    .sort((a, b) => (a.manifest.created < b.manifest.created ? 1 : -1));
}

/** Mount points below `dir` (a killed build must never be removed while something is mounted inside). */
function mountsUnder(dir: string): string[] {
  const table = fs.readFileSync('/proc/self/mountinfo', 'utf8');
  return table
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(dir + '/')));
}

export function removeTree(dir: string): void {
  const mounted = mountsUnder(dir);
  if (mounted.length > 0) {
    throw new CorralError(
      'image_mounted',
      `refusing to remove ${dir}: ${mounted[0]} is mounted`,
      `unmount it first: umount -R ${mounted[0]}`,
    );
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Leftovers of builds of this id that died: we hold its lock, so no live builder owns them. */
function removeDeadBuilds(cacheDir: string, id: string): void {
  for (const name of fs.readdirSync(cacheDir)) {
    if (name.startsWith(`${BUILD_PREFIX}${id}-`)) removeTree(path.join(cacheDir, name));
  }
}

export function removeImage(
  cacheDir: string,
  id: string,
  opts: { force?: boolean; nodePath?: string } = {},
): void {
  if (!IMAGE_ID_RE.test(id))
    throw new CorralError('image_bad_id', `not an image id: ${id}`, 'see: corral image list');
  if (readImage(cacheDir, id) === undefined)
    throw new CorralError('image_not_found', `no image ${id} in ${cacheDir}`, 'see: corral image list');
  if (opts.force !== true && currentInputs(opts.nodePath).id === id) {
    throw new CorralError(
      'image_in_use',
      `${id} is the current base image; sandboxes start from it`,
      'add --force to remove it anyway (the next sandbox builds it again)',
    );
  }
  // rename first: from this moment on no one sees a half-removed image as valid
  const aside = path.join(cacheDir, `${BUILD_PREFIX}${id}-rm-${process.pid}`);
  fs.renameSync(path.join(cacheDir, id), aside);
  removeTree(aside);
}

/** Returns the base image for the current inputs, building it first (once, across processes) when it is missing. */
export async function ensureBaseImage(opts: ImageOptions): Promise<BaseImage> {
  const started = Date.now();
  const onProgress = opts.onProgress ?? (() => undefined);
  const nodePath = opts.nodePath ?? process.execPath;
  const { id, inputs } = currentInputs(nodePath);
  const done = (img: BaseImage, built: boolean): BaseImage => {
    onProgress({
      type: 'done',
      imageId: id,
      built,
      sizeBytes: img.manifest.sizeBytes,
      elapsedMs: Date.now() - started,
    });
    return img;
  };
  const cached = opts.force === true ? undefined : readImage(opts.cacheDir, id);
  if (cached !== undefined) return done(cached, false);

  const tool = chooseTool();
  if (tool === undefined) {
    throw new CorralError(
      'image_no_bootstrap',
      'neither mmdebstrap nor debootstrap is installed; corral builds its base image with one of them',
      'apt-get install mmdebstrap',
    );
  }
  buildMode(tool); // throws, saying how to fix it, when this user cannot build
  fs.mkdirSync(opts.cacheDir, { recursive: true, mode: 0o755 });
  const release = await acquireLock(path.join(opts.cacheDir, `${id}.lock`), {
    timeoutMs: BUILD_TIMEOUT_MS + 60_000,
    staleAfterMs: BUILD_TIMEOUT_MS + 60_000,
    // someone else finished it while we waited (a forced rebuild waits for the lock and builds anyway)
    done: () => opts.force !== true && readImage(opts.cacheDir, id) !== undefined,
    onWait: (w) =>
      onProgress({ type: 'waiting', imageId: id, holderPid: w.holderPid, elapsedMs: Date.now() - started }),
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  if (release === undefined) {
    const img = readImage(opts.cacheDir, id);
    if (img !== undefined) return done(img, false);
    throw new CorralError(
      'image_vanished',
      `image ${id} disappeared while we waited for it`,
      'run: corral image build',
    );
  }
  try {
    if (opts.force !== true) {
      const img = readImage(opts.cacheDir, id);
      if (img !== undefined) return done(img, false);
    }
    removeDeadBuilds(opts.cacheDir, id);
    const buildDir = path.join(opts.cacheDir, `${BUILD_PREFIX}${id}-${process.pid}`);
    fs.mkdirSync(buildDir, { mode: 0o755 });
    try {
      await (opts.build ?? buildImage)({
        id,
        inputs,
        nodePath,
        buildDir,
        onProgress,
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      });
      const final = path.join(opts.cacheDir, id);
      if (fs.existsSync(final)) {
        // --force: the old one moves aside in one step, then ours takes its place in another
        const old = path.join(opts.cacheDir, `${BUILD_PREFIX}${id}-old-${process.pid}`);
        fs.renameSync(final, old);
        fs.renameSync(buildDir, final);
        removeTree(old);
      } else {
        fs.renameSync(buildDir, final);
      }
    } catch (err) {
      removeTree(buildDir);
      throw err;
    }
    const img = readImage(opts.cacheDir, id);
    if (img === undefined) throw new CorralError('image_invalid', `the image ${id} just built is not valid`);
    return done(img, true);
  } finally {
    release();
  }
}
