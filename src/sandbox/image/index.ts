// The base image every backend runs on: built once per set of inputs, cached, shared. See docs/isolation.md.
export {
  currentInputs,
  ensureBaseImage,
  findBaseImage,
  imageCacheDir,
  listImages,
  removeImage,
} from './cache.ts';
export type { ImageOptions } from './cache.ts';
export { stderrDisplay } from './display.ts';
export { buildBlocker } from './tools.ts';
export type { BaseImage, ImageInputs, ImageManifest, ImageProgress, ImageStep } from './types.ts';
