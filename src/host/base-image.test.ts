// The host's base image: found once per process, and the root and command it puts into every sandbox spec.
import { describe, expect, it } from 'vitest';
import { testBaseImage, testImageBlocker } from '../../test/fixtures/base-image.ts';
import { resolveHome } from '../config/home.ts';
import { RUNTIME_FILE } from '../sandbox/runtime-bundle.ts';
import { baseImageSource, IMAGE_NODE, imageSpec } from './base-image.ts';

describe('host base image', () => {
  const blocker = testImageBlocker();
  it.skipIf(blocker !== undefined)(
    `gives the image's node and root to the spec ${blocker ?? ''}`,
    async () => {
      const image = await testBaseImage();
      // $CORRAL_IMAGE_CACHE (set for the test run) points every home at the shared image
      const source = baseImageSource(resolveHome({ CORRAL_HOME: '/nonexistent' }));
      const a = await source();
      if (a === undefined) throw new Error('no image from the source');
      expect(a.id).toBe(image.id);
      expect(await source()).toBe(a);
      expect(imageSpec(a, '/layers/x')).toEqual({
        root: { imageDir: image.rootfs, imageId: image.id, layerDir: '/layers/x' },
        command: [IMAGE_NODE, `/opt/corral/${RUNTIME_FILE}`],
        extraReadOnly: [],
      });
    },
  );
});
