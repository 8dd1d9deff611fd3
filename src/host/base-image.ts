// The host's side of the base image: found (or built, with progress, on first need) once per process, and
// turned into the root and command of a sandbox spec.
import fs from 'node:fs';
import type { HomePaths } from '../config/home.ts';
import { SANDBOX_RUNTIME_DIR } from '../protocol/sandbox-env.ts';
import type { BaseImage, ImageProgress } from '../sandbox/image/index.ts';
import { buildBlocker, ensureBaseImage, findBaseImage, imageCacheDir } from '../sandbox/image/index.ts';
import { RUNTIME_FILE } from '../sandbox/runtime-bundle.ts';
import type { SandboxSpec } from '../sandbox/types.ts';

/** Where the image build puts the host's node. */
export const IMAGE_NODE = '/usr/local/bin/node';

/** The image, or undefined when there is none and this user cannot build one (then: bwrap's legacy layout). */
export type BaseImageSource = () => Promise<BaseImage | undefined>;

export interface BaseImageSourceOptions {
  onProgress?: (e: ImageProgress) => void;
  /** told once why sandboxes run without the image (e.g. an ordinary user without subordinate ids) */
  onUnavailable?: (reason: string) => void;
  nodePath?: string;
  env?: NodeJS.ProcessEnv;
}

/** Ensures the image once per process (concurrent first launches share one build); retries after a failure. */
export function baseImageSource(home: HomePaths, opts: BaseImageSourceOptions = {}): BaseImageSource {
  const cacheDir = imageCacheDir(home.imagesDir, opts.env);
  let known: BaseImage | undefined;
  let inflight: Promise<BaseImage> | undefined;
  let told = false;
  return async () => {
    // still there? (`corral image rm --force` may have removed it under a running host)
    if (known !== undefined && fs.existsSync(known.rootfs)) return known;
    known = findBaseImage(cacheDir, opts.nodePath);
    if (known !== undefined) return known;
    const blocker = buildBlocker();
    if (blocker !== undefined) {
      if (!told) opts.onUnavailable?.(blocker);
      told = true;
      return undefined;
    }
    inflight ??= ensureBaseImage({
      cacheDir,
      ...(opts.onProgress === undefined ? {} : { onProgress: opts.onProgress }),
      ...(opts.nodePath === undefined ? {} : { nodePath: opts.nodePath }),
    }).finally(() => (inflight = undefined));
    known = await inflight;
    return known;
  };
}

export function imageSpec(
  image: BaseImage,
  layerDir: string,
): Pick<SandboxSpec, 'root' | 'command' | 'extraReadOnly'> {
  return {
    root: { imageDir: image.rootfs, imageId: image.id, layerDir },
    command: [IMAGE_NODE, `${SANDBOX_RUNTIME_DIR}/${RUNTIME_FILE}`],
    extraReadOnly: [],
  };
}
