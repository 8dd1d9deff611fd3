// The host's side of the base image: found (or built, with progress, on first need) once per process, and
// turned into the root and command of a sandbox spec.
import fs from 'node:fs';
import type { HomePaths } from '../config/home.ts';
import { SANDBOX_RUNTIME_DIR } from '../protocol/sandbox-env.ts';
import type { BaseImage, ImageProgress } from '../sandbox/image/index.ts';
import { ensureBaseImage, imageCacheDir } from '../sandbox/image/index.ts';
import { RUNTIME_FILE } from '../sandbox/runtime-bundle.ts';
import type { SandboxBackend, SandboxSpec } from '../sandbox/types.ts';

/** Where the image build puts the host's node. */
export const IMAGE_NODE = '/usr/local/bin/node';

export type BaseImageSource = () => Promise<BaseImage>;

/** Ensures the image once per process (concurrent first launches share one build); retries after a failure. */
export function baseImageSource(
  home: HomePaths,
  opts: { onProgress?: (e: ImageProgress) => void; nodePath?: string } = {},
): BaseImageSource {
  let known: BaseImage | undefined;
  let inflight: Promise<BaseImage> | undefined;
  return async () => {
    // still there? (`corral image rm --force` may have removed it under a running host)
    if (known !== undefined && fs.existsSync(known.rootfs)) return known;
    inflight ??= ensureBaseImage({ cacheDir: imageCacheDir(home.imagesDir), ...opts }).finally(
      () => (inflight = undefined),
    );
    known = await inflight;
    return known;
  };
}

/**
 * A backend that keeps per-agent layers (it implements resetLayer) runs agents on the base image; the others
 * (bwrap before it learnt layers) get the legacy layout: the host's /usr and the host's node.
 */
export function usesImage(backend: SandboxBackend): boolean {
  return backend.resetLayer !== undefined;
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
