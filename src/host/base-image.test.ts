// The host's base image: which backends run on it, and the root and command it puts into their specs.
import { describe, expect, it } from 'vitest';
import { testBaseImage, testImageBlocker } from '../../test/fixtures/base-image.ts';
import { resolveHome } from '../config/home.ts';
import type { SandboxBackend } from '../sandbox/types.ts';
import { baseImageSource, IMAGE_NODE, imageSpec, usesImage } from './base-image.ts';

const backend = (withLayers: boolean): SandboxBackend => ({
  name: 'stub',
  probe: () => Promise.resolve({ ok: true, detail: '' }),
  start: () => Promise.reject(new Error('not started in this test')),
  ...(withLayers ? { resetLayer: () => Promise.resolve() } : {}),
});

describe('host base image', () => {
  it('puts backends that keep layers on the image; the others keep the legacy layout', () => {
    expect(usesImage(backend(true))).toBe(true);
    expect(usesImage(backend(false))).toBe(false);
  });

  const blocker = testImageBlocker();
  it.skipIf(blocker !== undefined)(
    `gives the image's node and root to the spec ${blocker ?? ''}`,
    async () => {
      const image = await testBaseImage();
      // $CORRAL_IMAGE_CACHE (set for the test run) points every home at the shared image
      const source = baseImageSource(resolveHome({ CORRAL_HOME: '/nonexistent' }));
      const a = await source();
      expect(a.id).toBe(image.id);
      expect(await source()).toBe(a);
      expect(imageSpec(a, '/layers/x')).toEqual({
        root: { imageDir: image.rootfs, imageId: image.id, layerDir: '/layers/x' },
        command: [IMAGE_NODE, '/opt/corral/runtime.mjs'],
        extraReadOnly: [],
      });
    },
  );
});
