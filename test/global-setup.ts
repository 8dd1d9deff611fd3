// Runs once before the suite: builds the base image (about a minute, once per set of inputs) so that no single
// test pays for it and times out. A host that cannot build it gets a warning; the tests that need it skip visibly.
import { buildBlocker, ensureBaseImage, stderrDisplay } from '../src/sandbox/image/index.ts';
import { testImageCache } from './fixtures/base-image.ts';

export default async function setup(): Promise<void> {
  const blocker = buildBlocker();
  const cacheDir = testImageCache();
  if (blocker !== undefined) {
    process.stderr.write(`base image: not built for tests (${blocker}); tests that need it are skipped\n`);
    return;
  }
  await ensureBaseImage({ cacheDir, onProgress: stderrDisplay() });
}
